package org.xenstorage.migrate.remote;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollMode;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.threads.EventLoopGuard;

/**
 * A remote datapath's NBD export, made local: a private Unix socket (in a directory of mode 0700) whose every
 * connection is tunnelled to the remote endpoint's NBD upgrade path ({@link NbdUpgrade}) over TCP, or TLS for an
 * {@code https} URL. An NBD client ({@code nbdcopy}, {@code nbdinfo}, qemu) connects to {@link #nbdUri()} as if
 * the export were on this host.
 *
 * <p>For each accepted connection the tunnel connects to the endpoint, sends the upgrade request (with the token),
 * reads the response head, and on {@code 200} relays bytes both ways until either side closes; any other answer
 * closes the local connection (the NBD client sees the export hang up) and is logged with the URL redacted.
 * Everything runs on shared event loops, without blocking; {@link #close()} closes the socket and every
 * connection.
 */
public final class NbdTunnel implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(NbdTunnel.class);
    /** sun_path is 108 bytes, its terminating NUL included. */
    private static final int MAX_SOCKET_PATH = 107;
    private static final WriteBufferWaterMark WATER_MARK = new WriteBufferWaterMark(512 * 1024, 2 * 1024 * 1024);

    /**
     * @param connectTimeout  how long connecting to the endpoint (TCP, then the TLS handshake) may take
     * @param responseTimeout how long the endpoint may take to answer the upgrade (it may start qemu-nbd first)
     */
    public record Options(Duration connectTimeout, Duration responseTimeout) {
        public Options {
            Objects.requireNonNull(connectTimeout, "connectTimeout");
            Objects.requireNonNull(responseTimeout, "responseTimeout");
        }

        /** 30 s to connect, 60 s for the response. */
        public static Options defaults() {
            return new Options(Duration.ofSeconds(30), Duration.ofSeconds(60));
        }
    }

    private final RemoteUrl url;
    private final RemoteTls tls;
    private final RemoteNbdPath target;
    private final Options options;
    private final InetSocketAddress remote;
    private final Path dir;
    private final Path socket;
    private final ChannelGroup channels = new DefaultChannelGroup("nbd-tunnel", GlobalEventExecutor.INSTANCE);
    private final AtomicInteger open = new AtomicInteger();
    private final AtomicBoolean closed = new AtomicBoolean();
    private Channel server;

    private NbdTunnel(RemoteUrl url, RemoteTls tls, RemoteNbdPath target, Options options, InetSocketAddress remote,
                      Path dir) {
        this.url = url;
        this.tls = tls;
        this.target = target;
        this.options = options;
        this.remote = remote;
        this.dir = dir;
        this.socket = dir.resolve("nbd");
    }

    /**
     * Opens a tunnel to {@code target} on {@code url}'s endpoint, listening in a new private directory under
     * {@code parentDir} (which must exist; keep it short: a socket path is at most 107 bytes). Blocks while it
     * resolves the host and binds: call it off any event loop.
     *
     * @param tls how to check the endpoint's certificate (used for {@code https} URLs only)
     */
    public static NbdTunnel open(RemoteUrl url, RemoteTls tls, RemoteNbdPath target, Path parentDir, Options options)
            throws IOException {
        EventLoopGuard.mayBlock("NbdTunnel.open");
        Objects.requireNonNull(target, "target");
        if (url.tls()) {
            Objects.requireNonNull(tls, "tls");
        }
        InetSocketAddress remote;
        try {
            // resolved here, once: a name lookup would block an event loop
            remote = new InetSocketAddress(InetAddress.getByName(url.host()), url.port());
        } catch (UnknownHostException e) {
            throw new IOException("cannot resolve the host of " + url.redacted() + ": " + e.getMessage(), e);
        }
        Path dir = Files.createTempDirectory(parentDir, "nbd-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        NbdTunnel t = new NbdTunnel(url, tls, target, options, remote, dir);
        try {
            t.listen();
        } catch (IOException | RuntimeException e) {
            t.removeFiles();
            throw e;
        }
        return t;
    }

    /** {@link #open(RemoteUrl, RemoteTls, RemoteNbdPath, Path, Options)} with {@link Options#defaults()}. */
    public static NbdTunnel open(RemoteUrl url, RemoteTls tls, RemoteNbdPath target, Path parentDir)
            throws IOException {
        return open(url, tls, target, parentDir, Options.defaults());
    }

    private void listen() throws IOException {
        String path = socket.toAbsolutePath().toString();
        if (path.getBytes(StandardCharsets.UTF_8).length > MAX_SOCKET_PATH) {
            throw new IOException("the tunnel socket path " + path + " is longer than " + MAX_SOCKET_PATH
                    + " bytes: open the tunnel under a shorter directory");
        }
        EventLoopGroup group = TunnelLoops.shared();
        ServerBootstrap b = new ServerBootstrap().group(group).channel(EpollServerDomainSocketChannel.class)
                .childOption(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, WATER_MARK)
                .childOption(EpollChannelOption.EPOLL_MODE, EpollMode.LEVEL_TRIGGERED)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel local) {
                        if (closed.get()) {
                            local.close();
                            return;
                        }
                        channels.add(local);
                        open.incrementAndGet();
                        local.closeFuture().addListener(f -> open.decrementAndGet());
                        local.pipeline().addLast("accepted", new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelActive(ChannelHandlerContext ctx) {
                                ctx.pipeline().remove(this);
                                connectRemote(ctx.channel());
                                ctx.fireChannelActive();
                            }
                        });
                    }
                });
        ChannelFuture bound = b.bind(new DomainSocketAddress(socket.toFile())).awaitUninterruptibly();
        if (!bound.isSuccess()) {
            throw new IOException("cannot listen on " + socket + ": " + bound.cause(), bound.cause());
        }
        server = bound.channel();
        channels.add(server);
        LOG.info("NBD tunnel {} -> {} {}", socket, url.redacted(), target);
    }

    /** Connects the remote leg of an accepted local connection (on the local connection's event loop). */
    private void connectRemote(Channel local) {
        Bootstrap b = new Bootstrap().group(local.eventLoop()).channel(EpollSocketChannel.class)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, millis(options.connectTimeout()))
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK, WATER_MARK)
                .option(EpollChannelOption.EPOLL_MODE, EpollMode.LEVEL_TRIGGERED)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        if (url.tls()) {
                            SslHandler ssl = new SslHandler(tls.clientEngine(url.host(), url.port()));
                            ssl.setHandshakeTimeoutMillis(millis(options.connectTimeout()));
                            ch.pipeline().addLast("tls", ssl);
                        }
                        ch.pipeline().addLast("upgrade", new UpgradeClient(local));
                    }
                });
        ChannelFuture connected = b.connect(remote);
        Channel out = connected.channel();
        channels.add(out);
        local.closeFuture().addListener(f -> ByteRelay.closeOnFlush(out));
        connected.addListener(f -> {
            if (!f.isSuccess()) {
                LOG.warn("NBD tunnel {}: cannot connect to {}: {}", target, url.redacted(),
                        url.scrub(String.valueOf(f.cause())));
                local.close();
            }
        });
    }

    private static int millis(Duration d) {
        return (int) Math.min(Integer.MAX_VALUE, Math.max(1, d.toMillis()));
    }

    /** The Unix socket NBD clients connect to. */
    public Path socket() {
        return socket;
    }

    /** The datapath this tunnel reaches. */
    public RemoteNbdPath target() {
        return target;
    }

    /** {@code nbd+unix:///?socket=<socket>}: the default export (what qemu-nbd serves for a File attach). */
    public String nbdUri() {
        return nbdUri("");
    }

    /** {@code nbd+unix:///<export>?socket=<socket>}, for a remote backend that serves a named export. */
    public String nbdUri(String exportName) {
        return "nbd+unix:///" + RemoteNbdPath.encode(exportName) + "?socket=" + socket.toAbsolutePath();
    }

    /**
     * The URI for the remote datapath whose attach answered {@code remoteBackend}: its own export's name if it
     * serves NBD itself, else the default export the endpoint's qemu-nbd serves.
     */
    public String nbdUri(org.xenstorage.idl.types.Backend remoteBackend) {
        return nbdUri(NbdExport.of(remoteBackend).map(NbdExport::exportName).orElse(""));
    }

    /** Local connections open now. */
    public int connections() {
        return open.get();
    }

    /** Stops listening, closes every connection (both legs) and removes the socket and its directory. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        EventLoopGuard.mayBlock("NbdTunnel.close");
        channels.close().awaitUninterruptibly(options.connectTimeout().toMillis());
        removeFiles();
        LOG.info("NBD tunnel {} closed", socket);
    }

    private void removeFiles() {
        try {
            Files.deleteIfExists(socket);
            Files.deleteIfExists(dir);
        } catch (IOException e) {
            LOG.warn("cannot remove the tunnel socket {}: {}", socket, e.toString());
        }
    }

    /**
     * The remote leg until the upgrade is accepted: sends the request (once TLS is up, for {@code https}), reads
     * the response head, then hands both connections to {@link ByteRelay} and removes itself.
     */
    private final class UpgradeClient extends ChannelInboundHandlerAdapter {
        private final Channel local;
        private ByteBuf head;
        private ScheduledFuture<?> deadline;
        private boolean done;

        UpgradeClient(Channel local) {
            this.local = local;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            deadline = ctx.executor().schedule(() -> fail(ctx, "no response within "
                    + options.responseTimeout().toSeconds() + " s"), options.responseTimeout().toMillis(),
                    TimeUnit.MILLISECONDS);
            if (!url.tls()) {
                sendRequest(ctx);
            }
            ctx.fireChannelActive();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof SslHandshakeCompletionEvent hs) {
                if (hs.isSuccess()) {
                    sendRequest(ctx);
                } else {
                    fail(ctx, "TLS handshake failed: " + hs.cause().getMessage());
                }
            }
            ctx.fireUserEventTriggered(evt);
        }

        private void sendRequest(ChannelHandlerContext ctx) {
            if (!local.isActive()) {
                fail(ctx, "the local NBD client went away");
                return;
            }
            ctx.writeAndFlush(Unpooled.wrappedBuffer(NbdUpgrade.request(url, target))).addListener(f -> {
                if (f.isSuccess()) {
                    ctx.read();
                } else {
                    fail(ctx, "cannot send the request: " + f.cause());
                }
            });
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf in = (ByteBuf) msg;
            if (done) {
                in.release();
                return;
            }
            if (head == null) {
                head = ctx.alloc().buffer(1024);
            }
            head.writeBytes(in);
            in.release();
            byte[] bytes = ByteBufUtil.getBytes(head);
            int end = NbdUpgrade.headEnd(bytes, bytes.length);
            if (end < 0) {
                if (bytes.length > NbdUpgrade.MAX_RESPONSE_HEAD) {
                    fail(ctx, "the response head is longer than " + NbdUpgrade.MAX_RESPONSE_HEAD + " bytes");
                } else {
                    ctx.read();
                }
                return;
            }
            String text = new String(bytes, 0, end, StandardCharsets.ISO_8859_1);
            OptionalInt status = NbdUpgrade.status(text);
            if (status.isEmpty() || status.getAsInt() != 200) {
                // the endpoint's reason, if it came with the head (a refusal's body is one short line)
                String body = new String(bytes, end, bytes.length - end, StandardCharsets.UTF_8).strip();
                fail(ctx, "the endpoint answered \"" + NbdUpgrade.firstLine(text) + "\""
                        + (body.isEmpty() ? "" : ": " + NbdUpgrade.firstLine(body)));
                return;
            }
            done = true;
            deadline.cancel(false);
            ByteBuf leftover = head.retainedSlice(end, head.readableBytes() - end); // NBD bytes already here
            head.release();
            head = null;
            ctx.pipeline().remove(this);
            if (!local.isActive()) {
                leftover.release();
                ctx.close();
                return;
            }
            if (leftover.isReadable()) {
                local.writeAndFlush(leftover);
            } else {
                leftover.release();
            }
            ByteRelay.join(local, ctx.channel());
            LOG.debug("NBD tunnel {}: upgraded on {}", target, url.redacted());
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            fail(ctx, "the endpoint closed the connection before it answered");
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            fail(ctx, cause.toString());
        }

        @Override
        public void handlerRemoved(ChannelHandlerContext ctx) {
            if (head != null) {
                head.release();
                head = null;
            }
        }

        private void fail(ChannelHandlerContext ctx, String why) {
            if (done) {
                return;
            }
            done = true;
            if (deadline != null) {
                deadline.cancel(false);
            }
            LOG.warn("NBD tunnel to {} for {}: {}", url.redacted(), target, url.scrub(why));
            ctx.close();
            local.close();
        }
    }
}
