package org.xenstorage.migrate.remote;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.util.concurrent.DefaultThreadFactory;
import org.xenstorage.threads.EventLoopGuard;

/**
 * The event loops every {@link NbdTunnel} of this process shares (daemon threads, never shut down): they only
 * move bytes, so one thread per two cores is plenty. Native epoll is required (the tunnel listens on a Unix
 * socket, which Netty serves only natively on Linux).
 */
final class TunnelLoops {
    private static volatile EventLoopGroup shared;

    private TunnelLoops() {
    }

    static EventLoopGroup shared() {
        EventLoopGroup g = shared;
        if (g == null) {
            synchronized (TunnelLoops.class) {
                g = shared;
                if (g == null) {
                    if (!Epoll.isAvailable()) {
                        throw new IllegalStateException("the NBD tunnel needs Netty's native epoll transport (Linux): "
                                + Epoll.unavailabilityCause());
                    }
                    int threads = Math.max(1, Runtime.getRuntime().availableProcessors() / 2);
                    // marked, so that a blocking call made on one of these threads is caught
                    g = new EpollEventLoopGroup(threads,
                            EventLoopGuard.marking(new DefaultThreadFactory("nbd-tunnel", true)));
                    shared = g;
                }
            }
        }
        return g;
    }
}
