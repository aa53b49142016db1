package org.xenstorage.daemon.remote;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.daemon.config.RemoteEndpointConfig;
import org.xenstorage.idl.api.DpApi;
import org.xenstorage.idl.api.SrApi;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.rpc.RpcTransport;
import org.xenstorage.idl.rpc.StorageDispatcher;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.Implementation;
import org.xenstorage.idl.types.NbdInfo;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.migrate.remote.NbdTunnel;
import org.xenstorage.migrate.remote.RemoteNbdPath;
import org.xenstorage.migrate.remote.RemoteStorage;
import org.xenstorage.migrate.remote.RemoteTls;
import org.xenstorage.migrate.remote.RemoteUrl;
import org.xenstorage.testing.Soon;

/**
 * The endpoint in-process on a real socket, in front of the real dispatcher over a small service whose
 * {@code DP.attach_info} names a real Unix-socket server (a greeting, then an echo) as the datapath's {@code Nbd}
 * export: every call that reaches the "mux" is recorded, so a refusal provably touched nothing. The daemon with
 * real backends, qemu-nbd and libnbd's tools is RemoteEndpointIT.
 */
class RemoteEndpointTest {
    static final String TOKEN = "endpoint-test-token-0123456789";
    static final byte[] GREETING = "NBDMAGIC-from-the-export".getBytes(StandardCharsets.US_ASCII);

    @TempDir
    Path dir;
    RemoteEndpoint endpoint;
    final List<String> calls = new CopyOnWriteArrayList<>();
    ServerSocketChannel export;
    RemoteUrl url;

    @BeforeEach
    void start() throws Exception {
        Path exportSocket = dir.resolve("export.sock");
        export = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        export.bind(UnixDomainSocketAddress.of(exportSocket));
        Thread t = new Thread(this::serveExport, "echo-export");
        t.setDaemon(true);
        t.start();
        class Service implements SrApi, DpApi {
            @Override
            public List<String> list(String dbg) {
                return List.of("sr-1");
            }

            @Override
            public Backend attachInfo(String dbg, String sr, String vdi, String dp, String vm) {
                if (!dp.equals("vbd/1/xvda")) {
                    throw StorageException.internal("sr: " + sr + " vdi: " + vdi + " Datapath " + dp + " not attached");
                }
                return new Backend(List.of(new Implementation.Nbd(
                        new NbdInfo("nbd:unix:" + exportSocket + ":exportname=v"))));
            }
        }
        StorageDispatcher dispatcher = new StorageDispatcher(StorageService.of(new Service()));
        RpcTransport mux = text -> {
            try {
                calls.add(Json.parse(text).path("method").asText());
            } catch (Exception e) {
                calls.add("?");
            }
            return dispatcher.dispatch(text);
        };
        Path token = dir.resolve("token");
        Files.writeString(token, TOKEN + "\n");
        Files.setPosixFilePermissions(token, PosixFilePermissions.fromString("rw-------"));
        endpoint = RemoteEndpoint.start(new RemoteEndpointConfig("127.0.0.1", 0, token, Optional.empty(),
                Optional.empty()), mux, dir.resolve("run"));
        url = RemoteUrl.parse("http://127.0.0.1:" + endpoint.address().getPort() + "/services/SM?session_id=" + TOKEN);
    }

    void serveExport() {
        while (export.isOpen()) {
            try {
                SocketChannel c = export.accept();
                Thread t = new Thread(() -> {
                    try (c) {
                        c.write(ByteBuffer.wrap(GREETING));
                        ByteBuffer b = ByteBuffer.allocate(65536);
                        while (c.read(b) >= 0) {
                            b.flip();
                            while (b.hasRemaining()) {
                                c.write(b);
                            }
                            b.clear();
                        }
                    } catch (IOException e) {
                        // the endpoint hung up
                    }
                });
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    @AfterEach
    void stop() throws IOException {
        endpoint.close();
        export.close();
    }

    String raw(String request) throws Exception {
        return Soon.get(CompletableFuture.supplyAsync(() -> {
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), endpoint.address().getPort())) {
                s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                s.getInputStream().transferTo(out);
                return out.toString(StandardCharsets.ISO_8859_1);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }));
    }

    @Test
    void aCallWithTheTokenReachesTheMuxAndItsReplyIsTheBody() {
        StorageService remote = RemoteStorage.connect(url, RemoteTls.systemTrust());
        assertEquals(List.of("sr-1"), remote.sr().list("t"));
        assertEquals(List.of("sr-1"), remote.sr().list("t"), "a second call on the kept-alive connection");
        assertEquals(List.of("SR.list", "SR.list"), calls);
    }

    @Test
    void refusalsAnswerBeforeTheMuxIsCalled() throws Exception {
        String q = "?session_id=" + TOKEN;
        String body = "{\"method\":\"SR.list\",\"params\":[{\"dbg\":\"x\"}],\"id\":1}";
        String post = " HTTP/1.1\r\nHost: x\r\nContent-Length: " + body.length() + "\r\n\r\n" + body;
        Object[][] cases = {
            {403, "POST /services/SM" + post},
            {403, "POST /services/SM?session_id=nope-0123456789abcdef" + post},
            {403, "POST /services/SM?session_id=" + TOKEN + "&session_id=" + TOKEN + post},
            {403, "POST /services/SM" + post.replace("Host: x\r\n", "Host: x\r\nCookie: session_id=" + TOKEN + "\r\n")},
            {403, "PUT /services/SM/nbd/0/sr/vdi/dp HTTP/1.0\r\n\r\n"},
            {400, "THIS IS NOT HTTP\r\n\r\n"},
            {400, "GET /" + "a".repeat(9000) + " HTTP/1.1\r\n\r\n"},
            {400, "POST /services/SM" + q + " HTTP/1.1\r\nX: " + "b".repeat(17_000) + "\r\n\r\n"},
            {404, "GET /elsewhere" + q + " HTTP/1.1\r\nHost: x\r\n\r\n"},
            {405, "PUT /services/SM" + q + " HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"},
            {405, "GET /services/SM/nbd/0/s/v/d" + q + " HTTP/1.1\r\nHost: x\r\n\r\n"},
            {413, "POST /services/SM" + q + " HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n"},
        };
        for (Object[] c : cases) {
            String answer = raw((String) c[1]);
            String what = c[1].toString();
            assertTrue(answer.startsWith("HTTP/1.1 " + c[0] + " "), what.substring(0, Math.min(60, what.length()))
                    + ": " + answer);
        }
        assertEquals(List.of(), calls, "no refused request reached the mux");
    }

    @Test
    void aClientStillSendingARefusedBodyReadsTheRefusal() {
        // the endpoint answers 403 from the head, before it has read the body: the client must get the answer,
        // not a reset (a close with unread bytes)
        RemoteUrl wrong = RemoteUrl.parse("http://127.0.0.1:" + endpoint.address().getPort()
                + "/services/SM?session_id=wrong-token-0123456789");
        String big = "{\"method\":\"SR.list\",\"params\":[{\"dbg\":\"" + "x".repeat(4 << 20) + "\"}],\"id\":1}";
        for (int i = 0; i < 5; i++) {
            java.util.concurrent.ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(
                    java.util.concurrent.ExecutionException.class, () -> Soon.get(RemoteStorage.transport(wrong,
                            RemoteTls.systemTrust(), RemoteStorage.Options.defaults()).call(big)));
            assertTrue(String.valueOf(e.getCause()).contains("HTTP 403"), String.valueOf(e.getCause()));
        }
        assertEquals(List.of(), calls);
    }

    @Test
    void anNbdUpgradeConnectsTheDatapathsExportThroughTheTunnel() throws Exception {
        Path tunnels = Files.createDirectories(dir.resolve("t"));
        try (NbdTunnel t = NbdTunnel.open(url, RemoteTls.systemTrust(), RemoteNbdPath.nbd("vm", "sr", "vdi", "vbd/1/xvda"),
                tunnels);
             SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            c.connect(UnixDomainSocketAddress.of(t.socket()));
            assertArrayEquals(GREETING, read(c, GREETING.length));
            byte[] data = new byte[3 << 20];
            new java.util.Random(3).nextBytes(data);
            CompletableFuture<Void> w = CompletableFuture.runAsync(() -> {
                try {
                    ByteBuffer b = ByteBuffer.wrap(data);
                    while (b.hasRemaining()) {
                        c.write(b);
                    }
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            assertArrayEquals(data, read(c, data.length));
            Soon.get(w);
            assertEquals(List.of("DP.attach_info"), calls);
            assertEquals(1, endpoint.nbdSessions());
        }
        Soon.await("the session ends with the tunnel", () -> endpoint.nbdSessions() == 0);
        String notAttached = raw("PUT " + RemoteNbdPath.nbd("vm", "sr", "vdi", "other").path() + "?session_id=" + TOKEN
                + " HTTP/1.0\r\n\r\n");
        assertTrue(notAttached.startsWith("HTTP/1.1 404 "), notAttached);
    }

    static byte[] read(SocketChannel c, int n) throws Exception {
        return Soon.get(CompletableFuture.supplyAsync(() -> {
            ByteBuffer b = ByteBuffer.allocate(n);
            try {
                while (b.hasRemaining()) {
                    if (c.read(b) < 0) {
                        throw new IOException("EOF after " + b.position() + " bytes");
                    }
                }
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            return b.array();
        }));
    }
}
