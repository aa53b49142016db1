package org.xenstorage.messageswitch.client;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.concurrent.ThreadFactory;
import org.xenstorage.threads.EventLoopGuard;

/**
 * Netty transport choice: native epoll (required for Unix sockets) when available, NIO for TCP
 * otherwise, and one process-wide client event-loop group so many clients share two threads.
 */
public final class Transports {
    private static volatile EventLoopGroup shared;

    private Transports() {
    }

    /** The client event loops shared by every connection of this process (daemon threads, never shut down). */
    public static EventLoopGroup sharedClientGroup() {
        EventLoopGroup g = shared;
        if (g == null) {
            synchronized (Transports.class) {
                g = shared;
                if (g == null) {
                    g = newGroup(Integer.getInteger("xenstorage.switch.clientThreads", defaultThreads()), "switch-client");
                    shared = g;
                }
            }
        }
        return g;
    }

    /**
     * Event-loop threads per group: one per two cores (Netty's default is two per core). These
     * threads only move bytes; a message crossing from one loop thread to another costs a wake-up,
     * and on a small host (2 cores) one thread per group measured best. Override with the system
     * properties {@code xenstorage.switch.clientThreads} / {@code xenstorage.switch.ioThreads}.
     */
    public static int defaultThreads() {
        return Math.max(1, Runtime.getRuntime().availableProcessors() / 2);
    }

    /** A new event-loop group of the best transport ({@code threads} 0 = Netty's default). */
    public static EventLoopGroup newGroup(int threads, String name) {
        // marked, so that a blocking call made on one of these threads is caught (EventLoopGuard)
        ThreadFactory tf = EventLoopGuard.marking(new DefaultThreadFactory(name, true));
        return Epoll.isAvailable() ? new EpollEventLoopGroup(threads, tf) : new NioEventLoopGroup(threads, tf);
    }

    /** A client bootstrap for {@code address} on {@code group}. */
    static Bootstrap bootstrap(SwitchAddress address, EventLoopGroup group, Duration connectTimeout) {
        Bootstrap b = new Bootstrap().group(group)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, connectTimeout.toMillis()));
        Class<? extends Channel> type;
        if (address instanceof SwitchAddress.Unix) {
            if (!(group instanceof EpollEventLoopGroup)) {
                throw new SwitchException(SwitchException.Kind.DISCONNECTED, null,
                        "Unix sockets need Netty's native epoll transport, which is not available here");
            }
            type = EpollDomainSocketChannel.class;
        } else {
            type = group instanceof EpollEventLoopGroup ? EpollSocketChannel.class : NioSocketChannel.class;
            b.option(ChannelOption.TCP_NODELAY, true);
        }
        return b.channel(type);
    }

    static SocketAddress socketAddress(SwitchAddress address) {
        if (address instanceof SwitchAddress.Unix u) {
            return new DomainSocketAddress(u.path().toFile());
        }
        SwitchAddress.Tcp t = (SwitchAddress.Tcp) address;
        return new InetSocketAddress(t.host(), t.port());
    }
}
