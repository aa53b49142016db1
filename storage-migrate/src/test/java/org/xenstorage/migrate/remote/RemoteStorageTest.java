package org.xenstorage.migrate.remote;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.xenstorage.idl.api.SrApi;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.rpc.StorageDispatcher;
import org.xenstorage.testing.Soon;

/**
 * RemoteStorage against a real HTTP server on a real socket that serves the project's real dispatcher under
 * {@code /services/SM}, refusing any request whose query lacks the token (the remote endpoint's contract; the
 * endpoint itself is tested end to end in storage-daemon's RemoteEndpointIT).
 */
class RemoteStorageTest {
    static final String TOKEN = "remote-storage-test-token-42";

    HttpServer server;
    final CountDownLatch never = new CountDownLatch(1);
    volatile String lastContentType;

    @BeforeEach
    void start() throws IOException {
        SrApi srs = new SrApi() {
            @Override
            public List<String> list(String dbg) {
                return List.of("sr-a", "sr-b");
            }

            @Override
            public void detach(String dbg, String sr) {
                throw new StorageException(new StorageError.SrNotAttached(sr));
            }
        };
        StorageDispatcher dispatcher = new StorageDispatcher(StorageService.of(srs));
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.setExecutor(Executors.newCachedThreadPool());
        server.createContext("/services/SM", exchange -> {
            try {
                String query = exchange.getRequestURI().getRawQuery();
                if (!exchange.getRequestMethod().equals("POST") || !("session_id=" + TOKEN).equals(query)) {
                    reply(exchange, 403, "forbidden");
                    return;
                }
                lastContentType = exchange.getRequestHeaders().getFirst("Content-Type");
                String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
                if (body.contains("SR.stat")) {
                    never.await(); // a remote that never answers
                }
                reply(exchange, 200, Soon.get(dispatcher.dispatch(body)));
            } catch (Exception e) {
                throw new IOException(e);
            } finally {
                exchange.close();
            }
        });
        server.start();
    }

    static void reply(HttpExchange exchange, int status, String text) throws IOException {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        exchange.sendResponseHeaders(status, b.length);
        exchange.getResponseBody().write(b);
    }

    @AfterEach
    void stop() {
        never.countDown();
        server.stop(0);
    }

    RemoteUrl url(String token) {
        return RemoteUrl.parse("http://127.0.0.1:" + server.getAddress().getPort() + "/services/SM?session_id=" + token);
    }

    @Test
    void callsReachTheRemoteAndItsErrorsAreTheSameStorageExceptionAsLocally() {
        StorageService remote = RemoteStorage.connect(url(TOKEN), RemoteTls.systemTrust());
        assertEquals(List.of("sr-a", "sr-b"), remote.sr().list("t"));
        assertEquals("application/json", lastContentType);
        StorageException e = assertThrows(StorageException.class, () -> remote.sr().detach("t", "sr-x"));
        assertEquals(new StorageError.SrNotAttached("sr-x"), e.error());
        assertEquals(new StorageError.Unimplemented("VDI.stat"),
                assertThrows(StorageException.class, () -> remote.vdi().stat("t", "s", "v")).error());
    }

    @Test
    void aRefusedTokenIsAClearErrorThatNeverShowsIt() {
        String wrong = "not-the-token-0123456789";
        StorageService remote = RemoteStorage.connect(url(wrong), RemoteTls.systemTrust());
        StorageException e = assertThrows(StorageException.class, () -> remote.sr().list("t"));
        StorageError.InternalError err = assertInstanceOf(StorageError.InternalError.class, e.error());
        assertTrue(err.message().contains("HTTP 403") && err.message().contains("session_id=(hidden)")
                && err.message().contains("SR.list"), err.message());
        assertFalse(err.message().contains(wrong), err.message());
    }

    @Test
    void aDeadEndpointIsAStorageErrorNamingTheRedactedUrl() throws IOException {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort(); // closed again: nothing listens there now
        }
        RemoteUrl dead = RemoteUrl.parse("http://127.0.0.1:" + port + "/services/SM?session_id=" + TOKEN);
        StorageException e = assertThrows(StorageException.class,
                () -> RemoteStorage.connect(dead, RemoteTls.systemTrust()).sr().list("t"));
        String text = assertInstanceOf(StorageError.InternalError.class, e.error()).message();
        assertTrue(text.contains("http://127.0.0.1:" + port + "/services/SM?session_id=(hidden)"), text);
        assertFalse(text.contains(TOKEN), text);
    }

    @Test
    void aRemoteThatNeverAnswersTimesOutWithAStorageError() {
        StorageService remote = RemoteStorage.connect(url(TOKEN), RemoteTls.systemTrust(),
                new RemoteStorage.Options(Duration.ofSeconds(30), Duration.ofSeconds(1)));
        StorageException e = assertThrows(StorageException.class, () -> remote.sr().stat("t", "sr-a"));
        String text = assertInstanceOf(StorageError.InternalError.class, e.error()).message();
        assertTrue(text.contains("did not answer SR.stat within 1 s"), text);
    }
}
