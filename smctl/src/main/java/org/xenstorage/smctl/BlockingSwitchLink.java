package org.xenstorage.smctl;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.xenstorage.messageswitch.client.SwitchAddress;
import org.xenstorage.messageswitch.client.SwitchException;
import org.xenstorage.messageswitch.protocol.PathSegments;

/**
 * A {@link SwitchLink} for one smctl run of the fast path: one blocking JDK {@link SocketChannel} (Unix or TCP)
 * speaking the message-switch's HTTP/1.1 requests in turn, on the caller's thread. It sends what the Netty
 * {@code SwitchRpcClient} sends (login, a transient reply queue, request with {@code reply_to}, long-poll of the
 * reply queue, ack), but on one connection and with no event loop, reconnect logic or callback pool: those cost a
 * CLI that makes one or two calls more start-up time than the calls themselves. Not thread-safe; one call at a
 * time. A deadline is kept by a watchdog thread that closes the channel, which ends a blocked read.
 */
final class BlockingSwitchLink implements SwitchLink {
    /** Longest single long-poll of the reply queue; the call's own deadline is checked between polls. */
    private static final long MAX_POLL_SECONDS = 30;

    private final SwitchAddress address;
    private final SocketChannel channel;
    private final String replyQueue;
    private ByteBuffer in = ByteBuffer.allocate(16 * 1024);
    private String next;
    private volatile boolean expired;

    private BlockingSwitchLink(SwitchAddress address, SocketChannel channel, String token) {
        this.address = address;
        this.channel = channel;
        this.replyQueue = "client-" + token;
        in.flip();
    }

    /** {@link #connect} as a {@link SwitchLink.Connector}, without a method reference (start-up time). */
    static final class Connector implements SwitchLink.Connector {
        @Override
        public SwitchLink connect(SwitchAddress address, Duration timeout) {
            return BlockingSwitchLink.connect(address, timeout);
        }
    }

    /** Connects, logs in and creates the reply queue, all within {@code timeout}; no retry. */
    static SwitchLink connect(SwitchAddress address, Duration timeout) {
        if (address instanceof SwitchAddress.Unix unix && !Files.exists(unix.path())) {
            throw new SwitchException(SwitchException.Kind.DISCONNECTED, null,
                    "no message-switch socket at " + unix.path());
        }
        SocketChannel channel;
        try {
            channel = address instanceof SwitchAddress.Unix unix
                    ? SocketChannel.open(UnixDomainSocketAddress.of(unix.path()))
                    : SocketChannel.open(new InetSocketAddress(((SwitchAddress.Tcp) address).host(),
                    ((SwitchAddress.Tcp) address).port()));
        } catch (IOException | RuntimeException e) {
            throw new SwitchException(SwitchException.Kind.DISCONNECTED, null,
                    "cannot connect to the message-switch at " + address + ": " + e, e);
        }
        // the token the Netty client would log in with from this process (SwitchRpcClient: name-pid-instance)
        String pid = pid();
        BlockingSwitchLink link = new BlockingSwitchLink(address, channel, "smctl-" + pid + "-" + pid + "-1");
        Watchdog watchdog = link.watch(timeout);
        try {
            link.exchange("GET", "/login/" + PathSegments.encode(link.replyQueue.substring("client-".length())), "");
            link.exchange("GET", "/transient/" + PathSegments.encode(link.replyQueue), "");
        } catch (IOException e) {
            link.close();
            throw link.failure(e, new SwitchException(SwitchException.Kind.TIMEOUT, null,
                    "no answer from the message-switch at " + address + " within " + timeout.toSeconds() + " s"));
        } finally {
            watchdog.interrupt();
        }
        return link;
    }

    /** This process's id, from {@code /proc/self} (ProcessHandle starts a thread pool on first use). */
    private static String pid() {
        try {
            return Files.readSymbolicLink(java.nio.file.Path.of("/proc/self")).toString();
        } catch (IOException | RuntimeException e) {
            return String.valueOf(ProcessHandle.current().pid());
        }
    }

    @Override
    public CompletableFuture<String> call(String queue, String body, Duration timeout) {
        Watchdog watchdog = watch(timeout);
        try {
            return CompletableFuture.completedFuture(callNow(queue, body, timeout));
        } catch (IOException e) {
            return CompletableFuture.failedFuture(failure(e, new SwitchException(SwitchException.Kind.TIMEOUT, queue,
                    "no reply from " + queue + " within " + timeout.toMillis() + " ms")));
        } catch (SwitchException e) {
            return CompletableFuture.failedFuture(e);
        } finally {
            watchdog.interrupt();
        }
    }

    private String callNow(String queue, String body, Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        JsonNode sent = json(exchange("POST", "/request/" + PathSegments.encode(queue) + "/"
                + PathSegments.encode(replyQueue), body));
        if (sent.isNull() || sent.isArray() && sent.isEmpty()) {
            throw new SwitchException(SwitchException.Kind.NO_SUCH_QUEUE, queue,
                    "queue " + queue + " does not exist on the switch: nobody serves it");
        }
        JsonNode id = sent.get(0);
        if (id == null || !id.isArray() || id.size() != 2 || !id.get(1).isIntegralNumber()) {
            throw protocol("expected a message id option, got " + sent);
        }
        String idQueue = id.get(0).asText();
        long idNumber = id.get(1).asLong();
        while (true) {
            long left = Math.max(1, Math.min(MAX_POLL_SECONDS, (deadline - System.nanoTime() + 999_999_999L)
                    / 1_000_000_000L));
            JsonNode t = json(exchange("POST", "/transfer", TreeJson.transfer(next, left + ".0", List.of(replyQueue))));
            JsonNode messages = t.get("messages");
            JsonNode n = t.get("next");
            if (messages == null || !messages.isArray() || n == null) {
                throw protocol("expected a transfer result, got " + t);
            }
            next = n.isTextual() ? n.textValue() : n.asText();
            String reply = null;
            List<JsonNode> delivered = new ArrayList<>();
            for (JsonNode d : messages) {
                JsonNode kind = d.path(1).path("kind");
                JsonNode to = kind.path(1);
                if (kind.path(0).asText().equals("Response") && to.path(0).asText().equals(idQueue)
                        && to.path(1).asLong(-1) == idNumber) {
                    reply = d.path(1).path("payload").asText();
                }
                delivered.add(d.get(0));
            }
            for (JsonNode d : delivered) {
                exchange("GET", "/ack/" + PathSegments.encode(d.path(0).asText()) + "/" + d.path(1).asLong(), "");
            }
            if (reply != null) {
                return reply;
            }
            if (System.nanoTime() - deadline >= 0) {
                throw new SwitchException(SwitchException.Kind.TIMEOUT, queue,
                        "no reply from " + queue + " within " + timeout.toMillis() + " ms");
            }
        }
    }

    @Override
    public List<String> queues(String prefix, boolean aliveOnly, Duration timeout) {
        Watchdog watchdog = watch(timeout);
        JsonNode names;
        try {
            names = json(exchange("GET", (aliveOnly ? "/list/alive/" : "/list/") + PathSegments.encode(prefix), ""));
        } catch (IOException e) {
            throw failure(e, new SwitchException(SwitchException.Kind.TIMEOUT, null,
                    "the switch did not list its queues in time"));
        } finally {
            watchdog.interrupt();
        }
        if (!names.isArray()) {
            throw protocol("expected a queue list, got " + names);
        }
        List<String> out = new ArrayList<>(names.size());
        for (JsonNode n : names) {
            if (!n.isTextual()) {
                throw protocol("expected a queue name, got " + n);
            }
            out.add(n.textValue());
        }
        return out;
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException e) {
            // closing: the switch drops the session and its reply queue either way
        }
    }

    // ---- one request, one response -------------------------------------------------------------

    /**
     * Closes the channel when {@code limit} passes, which ends a blocked read (a blocking read has no timeout of
     * its own); interrupt it when the operation is done. A class, not a lambda: start-up time.
     */
    private final class Watchdog extends Thread {
        private final long millis;

        Watchdog(long millis) {
            super("smctl-deadline");
            this.millis = millis;
            setDaemon(true);
        }

        @Override
        public void run() {
            try {
                Thread.sleep(millis);
                expired = true;
                close();
            } catch (InterruptedException e) {
                // the operation finished in time
            }
        }
    }

    private Watchdog watch(Duration limit) {
        Watchdog w = new Watchdog(Math.max(1, limit.toMillis()));
        w.start();
        return w;
    }

    /** What a failed exchange means: {@code onTimeout} when the watchdog closed the channel, else a lost connection. */
    private SwitchException failure(IOException e, SwitchException onTimeout) {
        if (expired) {
            return onTimeout;
        }
        return new SwitchException(SwitchException.Kind.DISCONNECTED, null,
                "connection to the message-switch at " + address + " failed: " + e.getMessage(), e);
    }

    /** Sends one request and returns the 200 response's body. */
    private String exchange(String method, String path, String body) throws IOException {
        byte[] content = body.getBytes(StandardCharsets.UTF_8);
        byte[] head = (method + " " + path + " HTTP/1.1\r\nhost: localhost\r\nuser-agent: xenstorage-message-switch\r\n"
                + "content-length: " + content.length + "\r\nconnection: keep-alive\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII);
        ByteBuffer out = ByteBuffer.allocate(head.length + content.length).put(head).put(content).flip();
        while (out.hasRemaining()) {
            channel.write(out);
        }
        String status = line();
        int length = -1;
        for (String h = line(); !h.isEmpty(); h = line()) {
            int colon = h.indexOf(':');
            if (colon > 0 && h.substring(0, colon).trim().equalsIgnoreCase("content-length")) {
                length = Integer.parseInt(h.substring(colon + 1).trim());
            }
        }
        if (length < 0) {
            throw protocol("response to " + path + " without content-length");
        }
        byte[] text = new byte[length];
        int got = 0;
        while (got < length) {
            if (!in.hasRemaining()) {
                fill();
            }
            int n = Math.min(in.remaining(), length - got);
            in.get(text, got, n);
            got += n;
        }
        String[] parts = status.split(" ", 3);
        int code = parts.length >= 2 && parts[0].startsWith("HTTP/") ? parseStatus(parts[1]) : -1;
        if (code != 200) {
            throw protocol("switch answered HTTP " + code + " to " + path);
        }
        return new String(text, StandardCharsets.UTF_8);
    }

    private static int parseStatus(String s) {
        try {
            return Integer.parseInt(s);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** One CRLF-terminated header line, without its end. */
    private String line() throws IOException {
        StringBuilder sb = new StringBuilder();
        while (true) {
            if (!in.hasRemaining()) {
                fill();
            }
            char c = (char) (in.get() & 0xff);
            if (c == '\n') {
                int end = sb.length();
                return end > 0 && sb.charAt(end - 1) == '\r' ? sb.substring(0, end - 1) : sb.toString();
            }
            if (sb.length() > 8192) {
                throw protocol("response header line too long");
            }
            sb.append(c);
        }
    }

    private void fill() throws IOException {
        in.compact();
        int n = channel.read(in);
        in.flip();
        if (n < 0) {
            throw new IOException("the switch closed the connection");
        }
    }

    private static JsonNode json(String text) {
        try {
            return TreeJson.parse(text);
        } catch (JsonProcessingException e) {
            throw protocol("malformed JSON: " + e.getOriginalMessage());
        }
    }

    private static SwitchException protocol(String message) {
        return new SwitchException(SwitchException.Kind.PROTOCOL, null, message);
    }
}
