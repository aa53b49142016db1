package org.xenstorage.messageswitch.broker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.ThrowingSupplier;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.testing.Soon;

/**
 * The broker on the wire, driven by hand-written bytes in the form upstream's cohttp client sends
 * (no {@code host} header, {@code user-agent: cohttp}), several requests pipelined in one write.
 */
class BrokerWireIT {
    private static final Pattern CONTENT_LENGTH = Pattern.compile("(?i)\r\ncontent-length: *([0-9]+)\r\n");

    @TempDir
    Path dir;
    private EmbeddedSwitch sw;
    private SocketChannel ch;

    @BeforeEach
    void start() throws IOException {
        sw = EmbeddedSwitch.start(Optional.of(dir.resolve("sock")), Optional.empty(), dir.resolve("state"));
        ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        ch.connect(UnixDomainSocketAddress.of(dir.resolve("sock")));
    }

    @AfterEach
    void stop() throws IOException {
        ch.close();
        sw.close();
    }

    private static String get(String path) {
        return "GET " + path + " HTTP/1.1\r\nuser-agent: cohttp\r\ncontent-length: 0\r\nconnection: keep-alive\r\n\r\n";
    }

    private static String post(String path, String body) {
        return "POST " + path + " HTTP/1.1\r\nuser-agent: cohttp\r\ncontent-length: " + body.length()
                + "\r\nconnection: keep-alive\r\n\r\n" + body;
    }

    private static String ok(String body) {
        return status(200, "OK", body);
    }

    private static String status(int code, String reason, String body) {
        return "HTTP/1.1 " + code + " " + reason + "\r\ncontent-length: " + body.length()
                + "\r\ncontent-type: text/plain; charset=utf-8\r\n\r\n" + body;
    }

    /** A blocking read from the switch that fails the test, instead of hanging it, when no answer comes. */
    private static <T> T answered(ThrowingSupplier<T> read) {
        return assertTimeoutPreemptively(Soon.timeout(), read, "the switch did not answer");
    }

    /** Writes the requests in one go and reads exactly as many bytes as the expected answers hold. */
    private String exchange(String requests, String expected) throws IOException {
        ch.write(ByteBuffer.wrap(requests.getBytes(StandardCharsets.UTF_8)));
        int want = expected.getBytes(StandardCharsets.UTF_8).length;
        return answered(() -> {
            ByteBuffer buf = ByteBuffer.allocate(want);
            while (buf.hasRemaining()) {
                if (ch.read(buf) < 0) {
                    break;
                }
            }
            return new String(buf.array(), 0, buf.position(), StandardCharsets.UTF_8);
        });
    }

    /** Reads one whole response, its headers and then content-length bytes of body, in however many reads. */
    private String readResponse() {
        return answered(() -> {
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            ByteBuffer buf = ByteBuffer.allocate(4096);
            while (true) {
                String text = got.toString(StandardCharsets.ISO_8859_1); // one char per byte: indexes are offsets
                int end = text.indexOf("\r\n\r\n");
                if (end >= 0) {
                    Matcher m = CONTENT_LENGTH.matcher(text.substring(0, end + 2));
                    if (m.find() && got.size() >= end + 4 + Integer.parseInt(m.group(1))) {
                        return got.toString(StandardCharsets.UTF_8);
                    }
                }
                buf.clear();
                if (ch.read(buf) < 0) {
                    return got.toString(StandardCharsets.UTF_8);
                }
                got.write(buf.array(), 0, buf.position());
            }
        });
    }

    @Test
    void aWholeRpcExchangeIsByteExact() throws IOException {
        String expect = status(404, "Not Found", "Please log in.")
                + ok("") + ok("org.xen.test") + ok("client-1")
                + ok("[[\"org.xen.test\",0]]") + ok("[]")
                + ok("{\"messages\":[[[\"org.xen.test\",0],{\"payload\":\"hello\",\"kind\":[\"Request\",\"client-1\"]}]],\"next\":\"0\"}")
                + ok("[[\"client-1\",1]]")
                + ok("") + ok("{\"messages\":[],\"next\":\"-1\"}")
                + ok("[\"org.xen.test\"]") + ok("[\"org.xen.test\"]")
                + status(404, "Not Found", "Not found");
        String got = exchange(get("/persistent/org.xen.test")
                + get("/login/cli") + get("/persistent/org.xen.test") + get("/transient/client-1")
                + post("/request/org.xen.test/client-1", "hello") + post("/request/org.xen.missing/client-1", "x")
                + post("/transfer", "{\"timeout\":0.0,\"queues\":[\"org.xen.test\"]}")
                + post("/response/client-1/org.xen.test/0", "world")
                + get("/ack/org.xen.test/0") + post("/transfer", "{\"from\":\"-1\",\"timeout\":0.0,\"queues\":[\"org.xen.test\"]}")
                + get("/list/org.xen") + get("/list/alive/org.xen")
                + get("/no/such/thing"), expect);
        assertEquals(expect, got);
    }

    @Test
    void aLongPollHoldsLaterPipelinedRequestsUntilItAnswers() throws IOException {
        exchange(get("/login/a") + get("/persistent/q"), ok("") + ok("q"));
        // the transfer waits (timeout 0.3 s, nothing arrives); the list behind it answers after it
        String expect = ok("{\"messages\":[],\"next\":\"-1\"}") + ok("[\"q\"]");
        assertEquals(expect, exchange(post("/transfer", "{\"timeout\":0.3,\"queues\":[\"q\"]}") + get("/list/"), expect));
    }

    @Test
    void diagnosticsAndTraceWorkWithoutASession() throws IOException {
        ch.write(ByteBuffer.wrap(get("/").getBytes(StandardCharsets.UTF_8)));
        // the whole dump, even if it comes in more than one read
        String text = readResponse();
        assertTrue(text.startsWith("HTTP/1.1 200 OK\r\n"), text);
        assertTrue(text.contains("\"permanent_queues\":{}"), text);
        assertTrue(text.contains("\"transient_queues\":{}"), text);
        String trace = ok("{\"events\":[]}");
        assertEquals(trace, exchange(get("/trace/-1/0.0"), trace));
    }

    @Test
    void aBadArgumentGetsA400AndTheConnectionStaysUsable() throws IOException {
        String expect = ok("") + status(400, "Bad Request", "not an int64: x") + ok("[]");
        assertEquals(expect, exchange(get("/login/a") + get("/ack/q/x") + get("/list/zzz"), expect));
    }

    @Test
    void garbageOnOneConnectionDoesNotHurtTheSwitch() throws IOException {
        ch.write(ByteBuffer.wrap(new byte[] {0, 1, 2, (byte) 0xff, '\r', '\n', '\r', '\n', 'x', 'y'}));
        answered(() -> {
            ByteBuffer buf = ByteBuffer.allocate(4096);
            while (ch.read(buf) > 0) {
                buf.clear(); // read until the broker closes this connection
            }
            return null;
        });
        ch.close();
        try (SocketChannel fresh = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            fresh.connect(UnixDomainSocketAddress.of(dir.resolve("sock")));
            ch = fresh;
            String expect = ok("") + ok("[]");
            assertEquals(expect, exchange(get("/login/a") + get("/list/zzz"), expect));
        }
    }
}
