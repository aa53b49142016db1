package org.xenstorage.migrate.remote;

import java.nio.charset.StandardCharsets;
import java.util.OptionalInt;

/**
 * The HTTP exchange that turns a connection to the remote endpoint into an NBD connection, as upstream xapi
 * speaks it (facts from storage_smapiv3_migrate's export_nbd_proxy and xapi_services' PUT handler):
 * <ol>
 *   <li>the client sends {@code PUT <nbd path>?session_id=<token> HTTP/1.0} with no body;</li>
 *   <li>the server answers {@code HTTP/1.1 200 OK} with {@code Transfer-encoding: nbd} (and upstream's
 *       {@code Connection: keep-alive}, kept so the head reads the same), or an error status and closes;</li>
 *   <li>after the empty line, the connection carries the NBD protocol, server first (its greeting), until either
 *       side closes. A client sends nothing after its request before it has read the response.</li>
 * </ol>
 * Both ends of this project use this class, so the two sides cannot drift apart.
 */
public final class NbdUpgrade {
    /** The request method (upstream's {@code Http.Put}). */
    public static final String METHOD = "PUT";
    /** The response head an accepted upgrade gets; the NBD bytes follow it. */
    public static final byte[] ACCEPTED = ("HTTP/1.1 200 OK\r\n"
            + "Connection: keep-alive\r\n"
            + "Cache-Control: no-cache, no-store\r\n"
            + "Transfer-encoding: nbd\r\n"
            + "\r\n").getBytes(StandardCharsets.US_ASCII);
    /** The longest response head a client reads before it gives up. */
    public static final int MAX_RESPONSE_HEAD = 16 * 1024;
    static final String USER_AGENT = "xenstorage-nbd-tunnel";

    private NbdUpgrade() {
    }

    /** The request head for {@code target} on {@code url}'s endpoint (it carries the token: never log it). */
    static byte[] request(RemoteUrl url, RemoteNbdPath target) {
        String head = METHOD + " " + url.requestTarget(target.path()) + " HTTP/1.0\r\n"
                + "Host: " + url.authority() + "\r\n"
                + "User-Agent: " + USER_AGENT + "\r\n"
                + "\r\n";
        return head.getBytes(StandardCharsets.US_ASCII);
    }

    /** Where the response head ends (the index just past its empty line), or -1 while it is incomplete. */
    static int headEnd(byte[] bytes, int length) {
        for (int i = 3; i < length; i++) {
            if (bytes[i] == '\n' && bytes[i - 1] == '\r' && bytes[i - 2] == '\n' && bytes[i - 3] == '\r') {
                return i + 1;
            }
        }
        return -1;
    }

    /** The status code of a response head's first line ({@code HTTP/1.x NNN reason}), if it is one. */
    static OptionalInt status(String head) {
        int eol = head.indexOf("\r\n");
        String line = eol < 0 ? head : head.substring(0, eol);
        String[] parts = line.split(" ", 3);
        if (parts.length < 2 || !parts[0].startsWith("HTTP/1.") || parts[1].length() != 3) {
            return OptionalInt.empty();
        }
        try {
            return OptionalInt.of(Integer.parseInt(parts[1]));
        } catch (NumberFormatException e) {
            return OptionalInt.empty();
        }
    }

    /** The first line of a head, cut to a length that is safe to log. */
    static String firstLine(String head) {
        int eol = head.indexOf("\r\n");
        String line = eol < 0 ? head : head.substring(0, eol);
        line = line.length() > 400 ? line.substring(0, 400) + "…" : line;
        return line.replaceAll("[^\\x20-\\x7e]", "?");
    }
}
