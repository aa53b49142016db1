package org.xenstorage.migrate.remote;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.testing.Soon;

/**
 * The tunnel's side of the upgrade against a stand-in endpoint on a real TCP socket (a thread per connection:
 * it reads the request head, answers, then echoes), and a client on the tunnel's real Unix socket. The endpoint
 * and real NBD peers (nbdinfo, nbdcopy, qemu-nbd) are in storage-daemon's RemoteEndpointIT.
 */
class NbdTunnelTest {
    static final String TOKEN = "tunnel-test-token-0123456789";
    static final byte[] GREETING = "NBDMAGIC-greeting".getBytes(StandardCharsets.US_ASCII);

    @TempDir
    Path dir;
    ServerSocket endpoint;
    volatile String answer = new String(NbdUpgrade.ACCEPTED, StandardCharsets.US_ASCII);
    final List<String> heads = new CopyOnWriteArrayList<>();
    /** When set, the stand-in reads to the end instead of echoing, and completes this with what it read. */
    volatile CompletableFuture<byte[]> sink;

    @BeforeEach
    void startEndpoint() throws IOException {
        endpoint = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread t = new Thread(() -> {
            while (!endpoint.isClosed()) {
                try {
                    Socket s = endpoint.accept();
                    Thread c = new Thread(() -> serve(s), "stand-in-endpoint-conn");
                    c.setDaemon(true);
                    c.start();
                } catch (IOException e) {
                    return;
                }
            }
        }, "stand-in-endpoint");
        t.setDaemon(true);
        t.start();
    }

    /** Reads the head, answers {@link #answer} (and the greeting in the same write), then echoes. */
    void serve(Socket s) {
        try (s; InputStream in = s.getInputStream(); OutputStream out = s.getOutputStream()) {
            ByteArrayOutputStream head = new ByteArrayOutputStream();
            while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
                int b = in.read();
                if (b < 0) {
                    return;
                }
                head.write(b);
            }
            heads.add(head.toString(StandardCharsets.ISO_8859_1));
            byte[] a = answer.getBytes(StandardCharsets.US_ASCII);
            if (!answer.startsWith("HTTP/1.1 200")) {
                out.write(a);
                return;
            }
            byte[] both = new byte[a.length + GREETING.length];
            System.arraycopy(a, 0, both, 0, a.length);
            System.arraycopy(GREETING, 0, both, a.length, GREETING.length);
            out.write(both);
            out.flush();
            CompletableFuture<byte[]> into = sink;
            if (into != null) {
                into.complete(in.readAllBytes());
                return;
            }
            in.transferTo(out);
        } catch (IOException e) {
            // the client went away
        }
    }

    @AfterEach
    void stopEndpoint() throws IOException {
        endpoint.close();
    }

    RemoteUrl url() {
        return RemoteUrl.parse("http://127.0.0.1:" + endpoint.getLocalPort() + "/services/SM?session_id=" + TOKEN);
    }

    static SocketChannel connect(NbdTunnel t) throws IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        ch.connect(UnixDomainSocketAddress.of(t.socket()));
        return ch;
    }

    static byte[] readExactly(SocketChannel ch, int n) throws Exception {
        return Soon.get(CompletableFuture.supplyAsync(() -> {
            ByteBuffer b = ByteBuffer.allocate(n);
            try {
                while (b.hasRemaining()) {
                    if (ch.read(b) < 0) {
                        throw new IOException("EOF after " + b.position() + " of " + n + " bytes");
                    }
                }
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            return b.array();
        }));
    }

    static boolean seesEnd(SocketChannel ch) throws Exception {
        return Soon.get(CompletableFuture.supplyAsync(() -> {
            try {
                return ch.read(ByteBuffer.allocate(1)) < 0;
            } catch (IOException e) {
                return true; // reset: also an end
            }
        }));
    }

    @Test
    void eachConnectionIsUpgradedWithTheTokenThenRelaysBothWays() throws Exception {
        try (NbdTunnel t = NbdTunnel.open(url(), RemoteTls.systemTrust(),
                RemoteNbdPath.nbdProxyImport("vm", "sr", "vdi", "dp/1"), dir);
             SocketChannel ch = connect(t)) {
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(t.socket().getParent())));
            assertEquals("nbd+unix:///?socket=" + t.socket().toAbsolutePath(), t.nbdUri());
            assertEquals("nbd+unix:///exp%2F1?socket=" + t.socket().toAbsolutePath(), t.nbdUri("exp/1"));
            // the server's first bytes arrived with the response head: none is lost
            assertArrayEquals(GREETING, readExactly(ch, GREETING.length));
            assertTrue(heads.get(0).startsWith("PUT /services/SM/nbdproxy/import/vm/sr/vdi/dp%2F1?session_id="
                    + TOKEN + " HTTP/1.0\r\n"), heads.get(0));
            // 8 MiB both ways at once: more than every buffer on the way, so back-pressure has to work
            byte[] data = new byte[8 << 20];
            new Random(1).nextBytes(data);
            CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                try {
                    ByteBuffer b = ByteBuffer.wrap(data);
                    while (b.hasRemaining()) {
                        ch.write(b);
                    }
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            assertArrayEquals(data, readExactly(ch, data.length));
            Soon.get(writer);
            // a second client gets a connection (and a request) of its own
            try (SocketChannel second = connect(t)) {
                assertArrayEquals(GREETING, readExactly(second, GREETING.length));
                assertEquals(2, heads.size());
                Soon.await("two connections open", () -> t.connections() == 2);
            }
        }
    }

    @Test
    void whatAClientSendsJustBeforeItHangsUpArrivesWhole() throws Exception {
        sink = new CompletableFuture<>();
        try (NbdTunnel t = NbdTunnel.open(url(), RemoteTls.systemTrust(), RemoteNbdPath.nbd("vm", "s", "v", "d"),
                dir)) {
            byte[] data = new byte[8 << 20];
            new Random(2).nextBytes(data);
            try (SocketChannel ch = connect(t)) {
                assertArrayEquals(GREETING, readExactly(ch, GREETING.length));
                ByteBuffer b = ByteBuffer.wrap(data);
                while (b.hasRemaining()) {
                    ch.write(b);
                }
            } // closed at once: what the socket still queues must follow what the relay already moved
            assertArrayEquals(data, Soon.get(sink));
        }
    }

    @Test
    void aRefusedUpgradeHangsUpOnTheLocalClient() throws Exception {
        answer = "HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n";
        try (NbdTunnel t = NbdTunnel.open(url(), RemoteTls.systemTrust(), RemoteNbdPath.nbd("vm", "s", "v", "d"), dir);
             SocketChannel ch = connect(t)) {
            assertTrue(seesEnd(ch));
            Soon.await("the refused connection is gone", () -> t.connections() == 0);
        }
    }

    @Test
    void aDeadEndpointHangsUpToo() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        RemoteUrl dead = RemoteUrl.parse("http://127.0.0.1:" + port + "/services/SM?session_id=" + TOKEN);
        try (NbdTunnel t = NbdTunnel.open(dead, RemoteTls.systemTrust(), RemoteNbdPath.nbd("vm", "s", "v", "d"), dir);
             SocketChannel ch = connect(t)) {
            assertTrue(seesEnd(ch));
        }
    }

    @Test
    void closeEndsEveryConnectionAndRemovesTheSocket() throws Exception {
        NbdTunnel t = NbdTunnel.open(url(), RemoteTls.systemTrust(), RemoteNbdPath.nbd("vm", "s", "v", "d"), dir);
        try (SocketChannel ch = connect(t)) {
            assertArrayEquals(GREETING, readExactly(ch, GREETING.length));
            t.close();
            assertTrue(seesEnd(ch));
            assertFalse(Files.exists(t.socket()));
            assertFalse(Files.exists(t.socket().getParent()));
        }
    }
}
