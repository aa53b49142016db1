package org.xenstorage.migrate.remote;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Objects;

/**
 * A remote storage daemon's SMAPIv2 address in xapi's form,
 * {@code http(s)://host[:port]/services/SM?session_id=<token>}: the token travels as {@code session_id}, in the
 * query, and nowhere else.
 *
 * <p>The token is a credential: {@link #toString()} and {@link #redacted()} never show it, and no error this
 * class raises echoes the text it was given. Deliberately not a record (a record would print its token).
 */
public final class RemoteUrl {
    /** The path of xapi's (and our endpoint's) SMAPIv2 service. */
    public static final String SERVICE_PATH = "/services/SM";
    /** What stands for the token wherever a URL is shown. */
    public static final String HIDDEN = "(hidden)";
    private static final String FORM = "expected http(s)://host[:port]" + SERVICE_PATH + "?session_id=<token>";

    private final boolean tls;
    private final String host;
    private final int port;
    private final String token;

    private RemoteUrl(boolean tls, String host, int port, String token) {
        this.tls = tls;
        this.host = host;
        this.port = port;
        this.token = token;
    }

    /**
     * Parses xapi's form. Only {@code session_id} may be in the query; user info and fragments are refused (a
     * token there would travel where the endpoint does not look, and be shown where we do not hide it).
     *
     * @throws IllegalArgumentException saying what is wrong, without the URL's text
     */
    public static RemoteUrl parse(String url) {
        Objects.requireNonNull(url, "url");
        URI u;
        try {
            u = new URI(url.strip());
        } catch (URISyntaxException e) {
            // e.getMessage() quotes the input: give the reason and position only
            throw invalid(e.getReason() + " at index " + e.getIndex());
        }
        String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https")) {
            throw invalid("the scheme must be http or https");
        }
        if (u.getRawUserInfo() != null) {
            throw invalid("user information is not accepted (the token travels as session_id)");
        }
        if (u.getRawFragment() != null) {
            throw invalid("a fragment is not accepted");
        }
        String host = u.getHost();
        if (host == null || host.isEmpty()) {
            throw invalid("no host");
        }
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        String path = u.getRawPath() == null ? "" : u.getRawPath();
        if (!path.equals(SERVICE_PATH) && !path.equals(SERVICE_PATH + "/")) {
            throw invalid("the path must be " + SERVICE_PATH);
        }
        String token = null;
        String query = u.getRawQuery();
        if (query != null && !query.isEmpty()) {
            for (String pair : query.split("&", -1)) {
                int eq = pair.indexOf('=');
                String name = decode(eq < 0 ? pair : pair.substring(0, eq));
                if (!name.equals("session_id")) {
                    throw invalid("unexpected query parameter" + (name.isEmpty() ? "" : " '" + printable(name) + "'")
                            + " (only session_id is accepted)");
                }
                if (token != null) {
                    throw invalid("session_id is given more than once");
                }
                token = eq < 0 ? "" : decode(pair.substring(eq + 1));
            }
        }
        if (token == null || token.isEmpty()) {
            throw invalid("no session_id (the remote endpoint's token)");
        }
        boolean tls = scheme.equals("https");
        int port = u.getPort() >= 0 ? u.getPort() : tls ? 443 : 80;
        return new RemoteUrl(tls, host, port, token);
    }

    private static String decode(String s) {
        try {
            return URLDecoder.decode(s, StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw invalid("a malformed %-escape in the query");
        }
    }

    /** A parameter name, shown only if it is short plain text (it is never a value). */
    private static String printable(String name) {
        return name.length() <= 32 && name.chars().allMatch(c -> c > 0x20 && c < 0x7f) ? name : "?";
    }

    private static IllegalArgumentException invalid(String why) {
        return new IllegalArgumentException("invalid remote URL: " + why + "; " + FORM);
    }

    /**
     * The same endpoint URL on another host (same scheme, port and token): where a {@code Redirect(ip)} answer
     * sends a call, as upstream's redirectable RPC rebuilds its URL with the new host.
     *
     * @throws IllegalArgumentException for an empty host or one with characters a URL host cannot hold
     */
    public RemoteUrl withHost(String otherHost) {
        Objects.requireNonNull(otherHost, "host");
        String h = otherHost.strip();
        if (h.startsWith("[") && h.endsWith("]")) {
            h = h.substring(1, h.length() - 1);
        }
        if (h.isEmpty() || !h.chars().allMatch(c -> Character.isLetterOrDigit(c) || c == '.' || c == '-' || c == ':'
                || c == '_' || c == '%')) {
            throw invalid("a redirect to an unusable host");
        }
        return new RemoteUrl(tls, h, port, token);
    }

    /** Whether the endpoint is reached over TLS ({@code https}). */
    public boolean tls() {
        return tls;
    }

    /** The host, as given (a name or an address; an IPv6 literal without brackets). */
    public String host() {
        return host;
    }

    public int port() {
        return port;
    }

    /** The token (the credential); package-private: only the transports of this package send it. */
    String token() {
        return token;
    }

    /** {@code scheme://host:port}, for a URL or a Host header. */
    String origin() {
        return (tls ? "https" : "http") + "://" + authority();
    }

    /** {@code host:port} (an IPv6 literal in brackets). */
    String authority() {
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }

    /** A request target on the endpoint: {@code path?session_id=<token>}, the token percent-encoded. */
    String requestTarget(String path) {
        return path + "?session_id=" + URLEncoder.encode(token, StandardCharsets.UTF_8);
    }

    /** The SMAPIv2 service URI, token included: for the HTTP client only, never for a log. */
    URI serviceUri() {
        return URI.create(origin() + requestTarget(SERVICE_PATH));
    }

    /** The URL as it may be shown: {@code https://host:port/services/SM?session_id=(hidden)}. */
    public String redacted() {
        return origin() + SERVICE_PATH + "?session_id=" + HIDDEN;
    }

    /** {@code text} with every occurrence of the token (as is, or percent-encoded) replaced by {@link #HIDDEN}. */
    public String scrub(String text) {
        if (text == null) {
            return null;
        }
        String out = text.replace(token, HIDDEN);
        String encoded = URLEncoder.encode(token, StandardCharsets.UTF_8);
        return encoded.equals(token) ? out : out.replace(encoded, HIDDEN);
    }

    /** The redacted form. */
    @Override
    public String toString() {
        return redacted();
    }
}
