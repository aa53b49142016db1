package org.xenstorage.migrate.copy;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Set;

/**
 * An NBD export's address in the URI form libnbd reads (the NBD project's URI specification):
 * {@code nbd+unix:///<export>?socket=<path>} for a Unix socket (what a tunnel to another host's export looks
 * like here), {@code nbd://host[:port]/<export>} over TCP, and their TLS forms {@code nbds+unix}, {@code nbds}.
 * The text is checked once, here, so it can be handed to {@code nbdcopy} as one argv element and never be
 * taken for an option.
 *
 * @param text the URI as libnbd reads it
 */
public record NbdUri(String text) {
    private static final Set<String> SCHEMES = Set.of("nbd", "nbds", "nbd+unix", "nbds+unix");
    /** The default NBD port, used when a TCP URI names none. */
    public static final int DEFAULT_PORT = 10809;

    public NbdUri {
        Objects.requireNonNull(text, "text");
        URI uri;
        try {
            uri = new URI(text);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("not an NBD URI: " + text + " (" + e.getMessage() + ")");
        }
        String scheme = uri.getScheme();
        if (scheme == null || !SCHEMES.contains(scheme)) {
            throw new IllegalArgumentException("not an NBD URI (scheme must be one of " + SCHEMES + "): " + text);
        }
        if (scheme.endsWith("+unix")) {
            if (uri.getRawAuthority() != null) {
                throw new IllegalArgumentException("an nbd+unix URI names no host: " + text);
            }
            String socket = queryParameter(uri, "socket");
            if (socket == null || !socket.startsWith("/")) {
                throw new IllegalArgumentException("an nbd+unix URI needs ?socket=<absolute path>: " + text);
            }
        } else if (uri.getHost() == null) {
            throw new IllegalArgumentException("an nbd:// URI needs a host: " + text);
        }
    }

    /** Parses and checks {@code text}. */
    public static NbdUri parse(String text) {
        return new NbdUri(text);
    }

    /**
     * The export {@code exportName} (may be empty: the server's default export) behind the Unix socket {@code socket}.
     */
    public static NbdUri unixSocket(Path socket, String exportName) {
        if (!socket.isAbsolute()) {
            throw new IllegalArgumentException("socket path must be absolute: " + socket);
        }
        return new NbdUri("nbd+unix:///" + encode(exportName, true) + "?socket=" + encode(socket.toString(), true));
    }

    /** The export {@code exportName} on {@code host}:{@code port} over plain TCP. */
    public static NbdUri tcp(String host, int port, String exportName) {
        if (port <= 0 || port > 65535) {
            throw new IllegalArgumentException("bad port " + port);
        }
        String h = host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host; // an IPv6 literal
        return new NbdUri("nbd://" + h + ":" + port + "/" + encode(exportName, true));
    }

    /** Whether the export is reached through a Unix socket. */
    public boolean isUnixSocket() {
        return text.startsWith("nbd+unix:") || text.startsWith("nbds+unix:");
    }

    /** The Unix socket's path ({@link #isUnixSocket()} only). */
    public Path socket() {
        if (!isUnixSocket()) {
            throw new IllegalStateException("not a Unix socket URI: " + text);
        }
        return Path.of(queryParameter(URI.create(text), "socket"));
    }

    @Override
    public String toString() {
        return text;
    }

    private static String queryParameter(URI uri, String name) {
        String query = uri.getRawQuery();
        if (query == null) {
            return null;
        }
        for (String pair : query.split("&")) {
            int eq = pair.indexOf('=');
            if (eq > 0 && pair.substring(0, eq).equals(name)) {
                return decode(pair.substring(eq + 1));
            }
        }
        return null;
    }

    /** Percent-encodes all but RFC 3986's unreserved characters (and {@code /} when {@code keepSlash}). */
    static String encode(String s, boolean keepSlash) {
        StringBuilder out = new StringBuilder();
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            int c = b & 0xff;
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '-' || c == '.' || c == '_' || c == '~' || (keepSlash && c == '/')) {
                out.append((char) c);
            } else {
                out.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
                        .append(Character.toUpperCase(Character.forDigit(c & 0xf, 16)));
            }
        }
        return out.toString();
    }

    private static String decode(String s) {
        return java.net.URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
    }
}
