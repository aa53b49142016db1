package org.xenstorage.messageswitch.broker;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.messageswitch.client.Transports;
import org.xenstorage.messageswitch.protocol.Entry;
import org.xenstorage.messageswitch.protocol.HttpWire;
import org.xenstorage.messageswitch.protocol.SwitchResponse;
import org.xenstorage.statefile.AtomicFile;

/**
 * The embedded message-switch broker: the upstream wire protocol on a Unix socket and/or TCP
 * (loopback by default), so the daemon runs on a machine without xapi and tests have a real switch.
 * Persistent queues and their unacked messages are kept in {@code stateDir} and come back after a
 * restart; transient queues vanish with their session, as upstream.
 */
public final class EmbeddedSwitch implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedSwitch.class);
    /** Largest request body accepted (a SMAPIv2 call is a few KiB). */
    static final int MAX_REQUEST_BYTES = 64 << 20;

    private final long startNanos = System.currentTimeMillis() * 1_000_000L;
    private final long clockBase = System.nanoTime();
    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final ChannelGroup channels = new DefaultChannelGroup("message-switch", GlobalEventExecutor.INSTANCE);
    private final StateStore store;
    private final QueueTable table;
    private final Sessions sessions;
    private final TraceLog trace = new TraceLog();
    private final AtomicLong connectionIds = new AtomicLong();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final CountDownLatch terminated = new CountDownLatch(1);
    private Optional<Path> unixSocket = Optional.empty();
    private int tcpPort = -1;

    private EmbeddedSwitch(Path stateDir, boolean keepMessages) throws IOException {
        this.store = new StateStore(stateDir);
        Optional<QueueTable.Persistent> saved;
        try {
            saved = store.load();
        } catch (IOException e) {
            store.close(); // nothing attached yet: stops its writer thread without writing
            throw e;
        }
        this.table = new QueueTable(saved.map(QueueTable.Persistent::nextId).orElse(0L), () -> store.changed(false));
        int dropped = saved.map(p -> restore(p, keepMessages)).orElse(0);
        store.attach(table::persistentState);
        if (dropped > 0) {
            LOG.warn("dropped {} request(s) left in persistent queues by the previous run: their senders were"
                    + " disconnected when it stopped, and some may already have been answered", dropped);
            store.changed(true);
        }
        this.sessions = new Sessions(table);
        this.boss = Transports.newGroup(1, "switch-accept");
        this.workers = Transports.newGroup(Integer.getInteger("xenstorage.switch.ioThreads", Transports.defaultThreads()),
                "switch-io");
    }

    /** Restores the saved queues, with their messages or empty; returns how many messages were dropped. */
    private int restore(QueueTable.Persistent p, boolean keepMessages) {
        int dropped = 0;
        for (Map.Entry<String, Map<Long, Entry>> q : p.queues().entrySet()) {
            table.restore(q.getKey(), keepMessages ? q.getValue() : Map.of());
            dropped += keepMessages ? 0 : q.getValue().size();
        }
        return dropped;
    }

    /**
     * Starts listening; persistent queues come back with their unacked messages.
     *
     * @param unixSocket where to listen on a Unix socket (mode 0600), or empty for none
     * @param tcp        where to listen on TCP, or empty for none
     * @param stateDir   where persistent queues are kept across restarts
     */
    public static EmbeddedSwitch start(Optional<Path> unixSocket, Optional<InetSocketAddress> tcp, Path stateDir) {
        return start(unixSocket, tcp, stateDir, true);
    }

    /**
     * Starts listening.
     *
     * @param unixSocket   where to listen on a Unix socket (mode 0600), or empty for none
     * @param tcp          where to listen on TCP, or empty for none
     * @param stateDir     where persistent queues are kept across restarts
     * @param keepMessages whether the persistent queues come back with the messages saved by the previous
     *                     run ({@code false}: the queues come back empty). A process that embeds the switch and
     *                     serves its queues itself passes {@code false}: whatever the previous run left was sent
     *                     over connections that died with it, and since acks are saved
     *                     up to 200 ms late, a request already answered could otherwise
     *                     run a second time, after (and undoing) later calls
     */
    public static EmbeddedSwitch start(Optional<Path> unixSocket, Optional<InetSocketAddress> tcp, Path stateDir,
                                       boolean keepMessages) {
        if (unixSocket.isEmpty() && tcp.isEmpty()) {
            throw new IllegalArgumentException("the switch needs a Unix socket or a TCP address to listen on");
        }
        EmbeddedSwitch sw;
        try {
            sw = new EmbeddedSwitch(stateDir, keepMessages);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the switch state in " + stateDir, e);
        }
        try {
            if (unixSocket.isPresent()) {
                sw.bindUnix(unixSocket.get());
            }
            if (tcp.isPresent()) {
                sw.bindTcp(tcp.get());
            }
        } catch (IOException | RuntimeException e) {
            sw.close();
            if (e instanceof IOException io) {
                throw new UncheckedIOException("cannot listen: " + io.getMessage(), io);
            }
            throw (RuntimeException) e;
        }
        return sw;
    }

    private ChannelInitializer<Channel> initializer() {
        return new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel ch) {
                channels.add(ch);
                ch.pipeline().addLast(new HttpRequestDecoder(8192, 16384, 65536),
                        new Aggregator(),
                        new BrokerConnection(EmbeddedSwitch.this, "conn-" + connectionIds.incrementAndGet()));
            }
        };
    }

    private void bindUnix(Path path) throws IOException {
        if (!Epoll.isAvailable()) {
            throw new IOException("a Unix-socket switch needs Netty's native epoll transport", Epoll.unavailabilityCause());
        }
        Path parent = path.toAbsolutePath().getParent();
        if (parent != null && !Files.isDirectory(parent)) {
            AtomicFile.createPrivateDirectories(parent);
        }
        Files.deleteIfExists(path); // a stale socket from a previous run, as upstream unlinks it
        Channel ch = new ServerBootstrap().group(boss, workers).channel(EpollServerDomainSocketChannel.class)
                .childHandler(initializer()).bind(new DomainSocketAddress(path.toFile())).syncUninterruptibly().channel();
        channels.add(ch);
        Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-------"));
        unixSocket = Optional.of(path);
        LOG.info("message switch listening on unix:{}", path);
    }

    private void bindTcp(InetSocketAddress address) {
        if (!address.getAddress().isLoopbackAddress()) {
            LOG.warn("message switch listening on non-loopback TCP address {}: anyone who can reach it can use it", address);
        }
        ServerBootstrap b = new ServerBootstrap().group(boss, workers)
                .channel(Epoll.isAvailable() ? EpollServerSocketChannel.class : NioServerSocketChannel.class)
                .childHandler(initializer());
        Channel ch = b.bind(address).syncUninterruptibly().channel();
        channels.add(ch);
        tcpPort = ((InetSocketAddress) ch.localAddress()).getPort();
        LOG.info("message switch listening on tcp:{}", ch.localAddress());
    }

    /** The TCP port actually bound (useful with port 0), or -1 when not listening on TCP. */
    public int tcpPort() {
        return tcpPort;
    }

    /** The Unix socket listened on, if any. */
    public Optional<Path> unixSocket() {
        return unixSocket;
    }

    /** Waits until the switch has closed (after {@link #close()} or a {@code /shutdown} request). */
    public void awaitTermination() throws InterruptedException {
        terminated.await();
    }

    QueueTable table() {
        return table;
    }

    Sessions sessions() {
        return sessions;
    }

    TraceLog trace() {
        return trace;
    }

    long startNanos() {
        return startNanos;
    }

    long nowNanos() {
        return startNanos + (System.nanoTime() - clockBase);
    }

    double nowSeconds() {
        return nowNanos() / 1e9;
    }

    /** The switch's tiny web page: upstream serves a JS viewer here; we serve a text summary. */
    String adminPage(List<String> path) {
        StringBuilder sb = new StringBuilder("embedded message-switch (xenstorage)\n\nqueues:\n");
        for (String q : table.list("", false)) {
            sb.append("  ").append(q).append('\n');
        }
        return sb.toString();
    }

    /** As upstream: answer first, exit a second later (here: close the embedded broker). */
    void shutdownSoon() {
        Thread t = new Thread(() -> {
            try {
                Thread.sleep(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            close();
        }, "switch-shutdown");
        t.setDaemon(true);
        t.start();
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        try {
            channels.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
            boss.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
            // the final save must come after the last ack or send the event loops handle: wait for them to end
            // (on a loaded machine that can take longer than a fixed few seconds)
            Future<?> stopped = workers.shutdownGracefully(0, 2, TimeUnit.SECONDS);
            while (!stopped.awaitUninterruptibly(10, TimeUnit.SECONDS)) {
                LOG.warn("the switch's event loops have not stopped yet; waiting before the final save");
            }
            store.close();
            if (unixSocket.isPresent()) {
                try {
                    Files.deleteIfExists(unixSocket.get());
                } catch (IOException e) {
                    LOG.warn("cannot remove the switch socket {}: {}", unixSocket.get(), e.toString());
                }
            }
        } finally {
            terminated.countDown();
        }
    }

    /** Aggregates requests; an oversized one gets a 413 and the connection is closed. */
    private static final class Aggregator extends HttpObjectAggregator {
        Aggregator() {
            super(MAX_REQUEST_BYTES);
        }

        @Override
        protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
            ctx.writeAndFlush(Unpooled.wrappedBuffer(HttpWire.response(
                    new SwitchResponse.Reply(413, "request body larger than " + MAX_REQUEST_BYTES + " bytes"))))
                    .addListener(ChannelFutureListener.CLOSE);
        }
    }
}
