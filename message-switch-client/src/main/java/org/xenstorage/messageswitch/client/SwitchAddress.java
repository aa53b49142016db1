package org.xenstorage.messageswitch.client;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Where a message-switch listens: a Unix domain socket (the host default,
 * {@code /var/run/message-switch/sock}) or a TCP endpoint.
 */
public sealed interface SwitchAddress {

    /** The socket upstream's switch listens on, on a XenServer host. */
    Path HOST_DEFAULT_SOCKET = Path.of("/var/run/message-switch/sock");

    /** A Unix domain socket path. */
    record Unix(Path path) implements SwitchAddress {
        public Unix {
            Objects.requireNonNull(path, "path");
        }

        @Override
        public String toString() {
            return "unix:" + path;
        }
    }

    /** A TCP endpoint. */
    record Tcp(String host, int port) implements SwitchAddress {
        public Tcp {
            Objects.requireNonNull(host, "host");
            if (port <= 0 || port > 65535) {
                throw new IllegalArgumentException("TCP port out of range: " + port);
            }
        }

        @Override
        public String toString() {
            return "tcp:" + host + ":" + port;
        }
    }

    static SwitchAddress unix(Path path) {
        return new Unix(path);
    }

    static SwitchAddress tcp(String host, int port) {
        return new Tcp(host, port);
    }

    /**
     * Parses {@code unix:/path}, {@code tcp:host:port}, or a bare path (taken as a Unix socket).
     *
     * @throws IllegalArgumentException when the text is neither
     */
    static SwitchAddress parse(String text) {
        Objects.requireNonNull(text, "text");
        if (text.startsWith("tcp:")) {
            String rest = text.substring(4);
            int colon = rest.lastIndexOf(':');
            if (colon <= 0 || colon == rest.length() - 1) {
                throw new IllegalArgumentException("expected tcp:<host>:<port>, got " + text);
            }
            try {
                return new Tcp(rest.substring(0, colon), Integer.parseInt(rest.substring(colon + 1)));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("bad TCP port in " + text, e);
            }
        }
        String path = text.startsWith("unix:") ? text.substring(5) : text;
        if (path.isEmpty()) {
            throw new IllegalArgumentException("empty switch socket path");
        }
        return new Unix(Path.of(path));
    }
}
