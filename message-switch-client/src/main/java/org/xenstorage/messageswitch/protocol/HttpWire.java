package org.xenstorage.messageswitch.protocol;

import java.nio.charset.StandardCharsets;

/**
 * The exact bytes on the socket: an HTTP/1.1 keep-alive request for a {@link SwitchRequest}
 * (headers as upstream's client sends them) and the switch's response for a {@link SwitchResponse}.
 * Written by hand rather than through Netty's encoder so the golden tests pin every byte.
 */
public final class HttpWire {
    private HttpWire() {
    }

    /** Request bytes: request line, {@code host}, {@code user-agent}, {@code content-length}, {@code connection}. */
    public static byte[] request(SwitchRequest request) {
        HttpForm f = request.toHttp();
        byte[] body = f.body().getBytes(StandardCharsets.UTF_8);
        String head = f.method() + " " + f.path() + " HTTP/1.1\r\n"
                + "host: localhost\r\n"
                + "user-agent: xenstorage-message-switch\r\n"
                + "content-length: " + body.length + "\r\n"
                + "connection: keep-alive\r\n\r\n";
        return concat(head.getBytes(StandardCharsets.US_ASCII), body);
    }

    /** Response bytes: status line, {@code content-length}, {@code content-type}. */
    public static byte[] response(SwitchResponse.Reply reply) {
        byte[] body = reply.body().getBytes(StandardCharsets.UTF_8);
        String reason = switch (reply.status()) {
            case 200 -> "OK";
            case 400 -> "Bad Request";
            case 404 -> "Not Found";
            case 413 -> "Request Entity Too Large";
            default -> "Error";
        };
        String head = "HTTP/1.1 " + reply.status() + " " + reason + "\r\n"
                + "content-length: " + body.length + "\r\n"
                + "content-type: text/plain; charset=utf-8\r\n\r\n";
        return concat(head.getBytes(StandardCharsets.US_ASCII), body);
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = new byte[a.length + b.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
