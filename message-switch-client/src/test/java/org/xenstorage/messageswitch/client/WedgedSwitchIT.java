package org.xenstorage.messageswitch.client;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.testing.Soon;

/** A "switch" that accepts connections and never answers: connecting fails in bounded time instead of hanging. */
class WedgedSwitchIT {
    @TempDir
    Path dir;

    @Test
    void aSwitchThatNeverAnswersMakesConnectFailNotHang() throws Exception {
        Path sock = dir.resolve("sock");
        // filled by the acceptor while the test thread may already be closing them
        List<SocketChannel> accepted = new CopyOnWriteArrayList<>();
        Thread acceptor = null;
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(sock));
            acceptor = new Thread(() -> {
                try {
                    while (true) {
                        accepted.add(server.accept()); // read nothing, answer nothing
                    }
                } catch (Exception closed) {
                    // the test is over
                }
            });
            acceptor.setDaemon(true);
            acceptor.start();
            // the connect timeout is what this test is about; "not a hang" is judged by the generous Soon bound
            SwitchOptions quick = SwitchOptions.defaults().withConnectTimeout(Duration.ofMillis(500));
            SwitchException e = assertTimeoutPreemptively(Soon.timeout(), () -> assertThrows(SwitchException.class,
                    () -> SwitchRpcClient.connect(SwitchAddress.unix(sock), "wedged", quick)), "bounded, not a hang");
            assertTrue(e.kind() == SwitchException.Kind.TIMEOUT || e.kind() == SwitchException.Kind.DISCONNECTED, e.kind().toString());
            assertTimeoutPreemptively(Soon.timeout(), () -> assertThrows(SwitchException.class,
                    () -> SwitchQueueServer.start(SwitchAddress.unix(sock), "q", 1, b -> null, quick)), "bounded, not a hang");
        } finally {
            // the server is closed: the acceptor ends, and then no connection is added behind our back
            if (acceptor != null) {
                acceptor.join(Soon.millis());
            }
            for (SocketChannel c : accepted) {
                c.close();
            }
        }
    }
}
