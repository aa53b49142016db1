package org.xenstorage.messageswitch.client;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A "switch" that accepts connections and never answers: connecting fails in bounded time instead of hanging. */
class WedgedSwitchIT {
    @TempDir
    Path dir;

    @Test
    void aSwitchThatNeverAnswersMakesConnectFailNotHang() throws Exception {
        Path sock = dir.resolve("sock");
        List<SocketChannel> accepted = new ArrayList<>();
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(sock));
            Thread acceptor = new Thread(() -> {
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
            SwitchOptions quick = SwitchOptions.defaults().withConnectTimeout(Duration.ofMillis(500));
            long start = System.nanoTime();
            SwitchException e = assertThrows(SwitchException.class,
                    () -> SwitchRpcClient.connect(SwitchAddress.unix(sock), "wedged", quick));
            assertTrue(e.kind() == SwitchException.Kind.TIMEOUT || e.kind() == SwitchException.Kind.DISCONNECTED, e.kind().toString());
            assertTrue(System.nanoTime() - start < Duration.ofSeconds(30).toNanos(), "bounded, not a hang");
            assertThrows(SwitchException.class,
                    () -> SwitchQueueServer.start(SwitchAddress.unix(sock), "q", 1, b -> null, quick));
        } finally {
            for (SocketChannel c : accepted) {
                c.close();
            }
        }
    }
}
