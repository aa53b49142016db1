package org.xenstorage.messageswitch.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.testing.Soon;

/** A managed connection closed while a connection's setup (login, queue creation) is still in flight. */
class ManagedConnectionIT {
    @TempDir
    Path dir;

    /**
     * Regression: close() found no current connection, and the attempt then published its connection anyway:
     * it was never closed (an fd leaked and the switch kept a live session for a closed client).
     */
    @Test
    void aConnectionWhoseSetupEndsAfterCloseIsClosedNotPublished() throws Exception {
        Path sock = dir.resolve("sock");
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(sock));
            CompletableFuture<Void> setupInFlight = new CompletableFuture<>();
            CompletableFuture<Void> setupDone = new CompletableFuture<>();
            AtomicInteger ups = new AtomicInteger();
            ManagedConnection managed = new ManagedConnection("closing", SwitchAddress.unix(sock),
                    Transports.sharedClientGroup(), SwitchOptions.defaults().withConnectTimeout(Soon.timeout()),
                    c -> {
                        setupInFlight.complete(null);
                        return setupDone;
                    }, c -> ups.incrementAndGet(), c -> { });
            CompletableFuture<Void> ready = managed.start();
            try (SocketChannel accepted = server.accept()) {
                Soon.get(setupInFlight);
                managed.close();
                setupDone.complete(null); // the setup ends after close(): login answered late
                // the client's end is closed: the switch side reads end-of-file instead of waiting forever
                int read = assertTimeoutPreemptively(Soon.timeout(), () -> accepted.read(ByteBuffer.allocate(64)),
                        "the connection set up after close() is closed");
                assertEquals(-1, read);
            }
            assertTrue(managed.current().isEmpty(), "nothing published after close()");
            assertEquals(0, ups.get(), "no listener heard of a connection after close()");
            assertTrue(ready.isCompletedExceptionally());
            ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                    () -> Soon.get(ready));
            assertEquals(SwitchException.Kind.CLOSED, ((SwitchException) e.getCause()).kind());
        }
    }
}
