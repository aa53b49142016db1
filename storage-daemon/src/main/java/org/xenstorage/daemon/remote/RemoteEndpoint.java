package org.xenstorage.daemon.remote;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.epoll.EpollMode;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.daemon.config.RemoteEndpointConfig;
import org.xenstorage.idl.rpc.RpcTransport;
import org.xenstorage.statefile.AtomicFile;
import org.xenstorage.threads.EventLoopGuard;

/**
 * The daemon's remote SMAPIv2 endpoint, what xapi's {@code /services/SM} handlers are to storage_migrate: an HTTP
 * (or HTTPS) server on {@code remote-listen} that serves
 * <ul>
 *   <li>{@code POST /services/SM?session_id=<token>}: a JSON-RPC SMAPIv2 call, handled by the mux in-process;</li>
 *   <li>{@code PUT /services/SM/nbd/<vm>/<sr>/<vdi>/<dp>?session_id=<token>} and
 *       {@code PUT /services/SM/nbdproxy/import/<vm>/<sr>/<vdi>/<dp>?session_id=<token>}: an upgrade of the
 *       connection to NBD on that attached datapath ({@link NbdSessions}).</li>
 * </ul>
 * The pipeline reads as the protocol: [TLS] → idle timer → HTTP codec (size limits) → {@link RequestGate} (400 /
 * 403 / 404 / 405 before anything is touched) → body aggregator (size limit, 413) → {@link RpcHandler}. Nothing in
 * it blocks: mux calls are futures, qemu-nbd starts and stops on a small executor of its own.
 */
public final class RemoteEndpoint implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RemoteEndpoint.class);
    /** The handlers that leave the pipeline when a connection becomes NBD. */
    static final List<String> HTTP_HANDLERS = List.of("rpc", "aggregate", "gate", "idle", "http");
    static final int MAX_INITIAL_LINE = 8 * 1024;
    static final int MAX_HEADER_SIZE = 16 * 1024;
    static final int MAX_CHUNK = 64 * 1024;
    /** A JSON-RPC request body larger than this is answered 413 (requests are small: names, configs, records). */
    static final int MAX_BODY = 16 << 20;
    /** Connections at once; more are closed as they come. */
    static final int MAX_CONNECTIONS = 1024;
    /** A connection with no call in flight and nothing read or written for this long is closed. */
    static final Duration IDLE = Duration.ofMinutes(5);
    private static final WriteBufferWaterMark WATER_MARK = new WriteBufferWaterMark(512 * 1024, 2 * 1024 * 1024);

    private final EventLoopGroup acceptor;
    private final EventLoopGroup io;
    private final ThreadPoolExecutor blocking;
    private final NbdSessions sessions;
    private final ChannelGroup channels = new DefaultChannelGroup("remote-endpoint", GlobalEventExecutor.INSTANCE);
    private final AtomicInteger connections = new AtomicInteger();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final boolean tls;
    private Channel server;

    private RemoteEndpoint(EventLoopGroup acceptor, EventLoopGroup io, ThreadPoolExecutor blocking,
                           NbdSessions sessions, boolean tls) {
        this.acceptor = acceptor;
        this.io = io;
        this.blocking = blocking;
        this.sessions = sessions;
        this.tls = tls;
    }

    /**
     * Reads the token (and the TLS certificate and key), reclaims what a killed run left in {@code runDir}, and
     * listens. Fails, without listening, when any of them is missing or wrong.
     *
     * @param mux    the mux's request handler ({@code MuxServer::handle})
     * @param runDir a private directory for qemu-nbd's sockets ({@code <run-dir>/remote})
     */
    public static RemoteEndpoint start(RemoteEndpointConfig config, RpcTransport mux, Path runDir) throws IOException {
        return start(config, mux, runDir, NbdSessionListener.NONE);
    }

    /** As above, telling {@code listener} when an NBD session starts relaying and when it ends. */
    public static RemoteEndpoint start(RemoteEndpointConfig config, RpcTransport mux, Path runDir,
                                       NbdSessionListener listener) throws IOException {
        EventLoopGuard.mayBlock("RemoteEndpoint.start");
        EndpointToken token = EndpointToken.load(config.tokenFile());
        SslContext ssl = sslContext(config);
        if (!Epoll.isAvailable()) {
            throw new IOException("the remote endpoint needs Netty's native epoll transport (Linux)",
                    Epoll.unavailabilityCause());
        }
        InetSocketAddress address = new InetSocketAddress(InetAddress.getByName(config.address()), config.port());
        AtomicFile.createPrivateDirectories(runDir);
        QemuNbd.reclaim(runDir);
        ThreadPoolExecutor blocking = new ThreadPoolExecutor(4, 4, 60, TimeUnit.SECONDS,
                new ArrayBlockingQueue<>(NbdSessions.MAX_SESSIONS), new DefaultThreadFactory("remote-nbd", true));
        blocking.allowCoreThreadTimeOut(true);
        // marked, so that a blocking call made on one of these threads is caught (EventLoopGuard)
        EventLoopGroup acceptor = new EpollEventLoopGroup(1,
                EventLoopGuard.marking(new DefaultThreadFactory("remote-endpoint-accept", true)));
        EventLoopGroup io = new EpollEventLoopGroup(Math.max(1, Runtime.getRuntime().availableProcessors() / 2),
                EventLoopGuard.marking(new DefaultThreadFactory("remote-endpoint-io", true)));
        RemoteEndpoint endpoint = new RemoteEndpoint(acceptor, io, blocking, new NbdSessions(mux, blocking, runDir, listener),
                ssl != null);
        try {
            endpoint.listen(address, token, ssl, mux);
        } catch (IOException | RuntimeException e) {
            endpoint.close();
            throw e;
        }
        return endpoint;
    }

    /** Reads the token file and the TLS certificate and key as {@link #start} does: fails the same way. */
    public static void checkCredentials(RemoteEndpointConfig config) throws IOException {
        EventLoopGuard.mayBlock("RemoteEndpoint.checkCredentials");
        EndpointToken.load(config.tokenFile());
        sslContext(config);
    }

    private static SslContext sslContext(RemoteEndpointConfig config) throws IOException {
        if (!config.tls()) {
            return null;
        }
        try {
            return SslContextBuilder.forServer(config.tlsCert().get().toFile(), config.tlsKey().get().toFile())
                    .sslProvider(SslProvider.JDK).build();
        } catch (IOException | IllegalArgumentException e) {
            throw new IOException("remote-tls-cert " + config.tlsCert().get() + " / remote-tls-key "
                    + config.tlsKey().get() + " cannot be used (a PEM certificate chain and its PKCS#8 PEM key): "
                    + e.getMessage(), e);
        }
    }

    private void listen(InetSocketAddress address, EndpointToken token, SslContext ssl, RpcTransport mux)
            throws IOException {
        ServerBootstrap b = new ServerBootstrap().group(acceptor, io).channel(EpollServerSocketChannel.class)
                .option(ChannelOption.SO_BACKLOG, 128)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, WATER_MARK)
                .childOption(EpollChannelOption.EPOLL_MODE, EpollMode.LEVEL_TRIGGERED)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        if (connections.incrementAndGet() > MAX_CONNECTIONS || closed.get()) {
                            connections.decrementAndGet();
                            LOG.warn("remote endpoint: connection from {} closed: {} connections already open",
                                    ch.remoteAddress(), MAX_CONNECTIONS);
                            ch.close();
                            return;
                        }
                        ch.closeFuture().addListener(f -> connections.decrementAndGet());
                        channels.add(ch);
                        ChannelPipeline p = ch.pipeline();
                        if (ssl != null) {
                            p.addLast("tls", ssl.newHandler(ch.alloc()));
                        }
                        p.addLast("idle", new IdleStateHandler(0, 0, IDLE.toSeconds(), TimeUnit.SECONDS));
                        p.addLast("http", new HttpServerCodec(MAX_INITIAL_LINE, MAX_HEADER_SIZE, MAX_CHUNK));
                        p.addLast("gate", new RequestGate(token, sessions));
                        p.addLast("aggregate", new BoundedBody());
                        p.addLast("rpc", new RpcHandler(mux));
                    }
                });
        ChannelFuture bound = b.bind(address).awaitUninterruptibly();
        if (!bound.isSuccess()) {
            throw new IOException("the remote endpoint cannot listen on " + address + ": " + bound.cause(),
                    bound.cause());
        }
        server = bound.channel();
        LOG.info("remote endpoint listening on {} ({}): POST {}, PUT {}/nbd/..., {}/nbdproxy/import/...",
                server.localAddress(), tls ? "HTTPS" : "HTTP", "/services/SM", "/services/SM", "/services/SM");
    }

    /** The body aggregator: a body over {@link #MAX_BODY} is answered 413 and the connection closed. */
    private static final class BoundedBody extends HttpObjectAggregator {
        BoundedBody() {
            super(MAX_BODY);
        }

        @Override
        protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
            // Netty's own answer keeps a keep-alive connection open to skip the body; we do not read it at all
            // (the aggregator releases the message itself)
            HttpReplies.refuse(ctx, HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, "the request body is larger than "
                    + MAX_BODY + " bytes");
        }
    }

    /** The address it listens on (the port chosen, when the configuration said 0). */
    public InetSocketAddress address() {
        return (InetSocketAddress) server.localAddress();
    }

    /** Whether it speaks HTTPS. */
    public boolean tls() {
        return tls;
    }

    /** NBD connections open now. */
    public int nbdSessions() {
        return sessions.size();
    }

    /** Stops listening, closes every connection and stops every qemu-nbd it started. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        EventLoopGuard.mayBlock("RemoteEndpoint.close");
        if (server != null) {
            server.close().awaitUninterruptibly();
        }
        sessions.close();
        channels.close().awaitUninterruptibly(10_000);
        blocking.shutdown();
        try {
            if (!blocking.awaitTermination(60, TimeUnit.SECONDS)) {
                LOG.warn("remote endpoint: qemu-nbd stops still running after 60 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        sessions.stopLeftovers();
        acceptor.shutdownGracefully(0, 2, TimeUnit.SECONDS);
        io.shutdownGracefully(0, 2, TimeUnit.SECONDS);
        LOG.info("remote endpoint stopped");
    }
}
