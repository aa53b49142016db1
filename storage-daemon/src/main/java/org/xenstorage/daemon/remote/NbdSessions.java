package org.xenstorage.daemon.remote;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollMode;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.io.IOException;
import java.net.ConnectException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.rpc.MethodDescriptor;
import org.xenstorage.idl.rpc.MethodTable;
import org.xenstorage.idl.rpc.RpcTransport;
import org.xenstorage.idl.rpc.StorageClient;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.Implementation;
import org.xenstorage.migrate.remote.ByteRelay;
import org.xenstorage.migrate.remote.NbdExport;
import org.xenstorage.migrate.remote.NbdUpgrade;
import org.xenstorage.migrate.remote.RemoteNbdPath;

/**
 * The NBD upgrades the endpoint serves. For each accepted upgrade request:
 * <ol>
 *   <li>{@code DP.attach_info(sr, vdi, dp, vm)} through the mux (asynchronously) says what the datapath offers;</li>
 *   <li>{@code Nbd} (an NBD export on a Unix socket): that socket is the server; else {@code File} or
 *       {@code BlockDevice}: a {@link QemuNbd} is started for that path, on the {@code remote-nbd} executor;</li>
 *   <li>once connected to the server, the request is answered {@link NbdUpgrade#ACCEPTED}, the HTTP handlers leave
 *       the pipeline and {@link ByteRelay} joins the two connections;</li>
 *   <li>when either side closes, the other is closed and the qemu-nbd (if any) is stopped.</li>
 * </ol>
 * Before the answer, a failure is an HTTP error status (404 for a datapath the mux does not know, 500 otherwise,
 * 503 past {@link #MAX_SESSIONS}), and the connection closes. Nothing here blocks an event loop.
 */
final class NbdSessions implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(NbdSessions.class);
    /** Upgrades served at once; more are answered 503. */
    static final int MAX_SESSIONS = 64;
    /** How long qemu-nbd may take to listen. */
    private static final Duration QEMU_START = Duration.ofSeconds(30);
    /** Connection attempts to a socket that exists but may not listen yet (qemu-nbd binds, then listens). */
    private static final int CONNECT_ATTEMPTS = 50;
    private static final WriteBufferWaterMark WATER_MARK = new WriteBufferWaterMark(512 * 1024, 2 * 1024 * 1024);
    private static final MethodDescriptor ATTACH_INFO = MethodTable.byWireName("DP.attach_info").orElseThrow();

    private final RpcTransport mux;
    private final ExecutorService blocking;
    private final Path qemuDir;
    private final NbdSessionListener listener;
    private final Set<Session> sessions = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean closed = new AtomicBoolean();

    /**
     * @param mux      the mux, in-process
     * @param blocking the bounded executor that starts and stops qemu-nbd
     * @param qemuDir  where qemu-nbd's private socket directories go
     * @param listener told when a session starts relaying and when it ends
     */
    NbdSessions(RpcTransport mux, ExecutorService blocking, Path qemuDir, NbdSessionListener listener) {
        this.mux = mux;
        this.blocking = blocking;
        this.qemuDir = qemuDir;
        this.listener = listener;
    }

    /** Serves an authorised upgrade request on {@code inbound} (reading is paused; the request has been read). */
    void open(Channel inbound, RemoteNbdPath target) {
        if (closed.get()) {
            HttpReplies.refuse(inbound, HttpResponseStatus.SERVICE_UNAVAILABLE, "the endpoint is stopping");
            return;
        }
        if (sessions.size() >= MAX_SESSIONS) {
            HttpReplies.refuse(inbound, HttpResponseStatus.SERVICE_UNAVAILABLE, "too many NBD connections ("
                    + MAX_SESSIONS + ")");
            return;
        }
        Session s = new Session(inbound, target);
        sessions.add(s);
        inbound.closeFuture().addListener(f -> s.finish());
        s.start();
    }

    /** Sessions open now (for diagnostics and tests). */
    int size() {
        return sessions.size();
    }

    /** Ends every session (their qemu-nbd processes are stopped on the executor, which the caller then drains). */
    @Override
    public void close() {
        closed.set(true);
        for (Session s : List.copyOf(sessions)) {
            s.inbound.close();
            s.finish();
        }
    }

    /** One upgrade: the client's connection, the NBD server's, and the qemu-nbd behind it if one was started. */
    private final class Session {
        private final Channel inbound;
        private final RemoteNbdPath target;
        private final AtomicBoolean finished = new AtomicBoolean();
        private volatile Channel outbound;
        private volatile QemuNbd qemu;
        private volatile boolean relaying;

        Session(Channel inbound, RemoteNbdPath target) {
            this.inbound = inbound;
            this.target = target;
        }

        void start() {
            String request = StorageClient.encodeRequest(ATTACH_INFO,
                    new Object[] {"remote-nbd " + target.dp(), target.sr(), target.vdi(), target.dp(), target.vm()});
            CompletableFuture<String> reply;
            try {
                reply = mux.call(request);
            } catch (RuntimeException e) {
                reply = CompletableFuture.failedFuture(e);
            }
            reply.thenApply(text -> (Backend) StorageClient.decodeResponse(ATTACH_INFO, text))
                    .whenComplete((backend, error) -> inbound.eventLoop().execute(() -> onBackend(backend, error)));
        }

        private void onBackend(Backend backend, Throwable error) {
            if (finished.get()) {
                return;
            }
            if (error != null) {
                Throwable e = error instanceof CompletionException && error.getCause() != null ? error.getCause()
                        : error;
                HttpResponseStatus status = e instanceof StorageException se && unknownDatapath(se.error())
                        ? HttpResponseStatus.NOT_FOUND : HttpResponseStatus.INTERNAL_SERVER_ERROR;
                fail(status, "DP.attach_info failed: " + e.getMessage());
                return;
            }
            Optional<NbdExport> nbd = NbdExport.of(backend);
            if (nbd.isPresent()) {
                connect(Path.of(nbd.get().socket()), 1);
                return;
            }
            Optional<String> path = backend.first(Implementation.File.class).map(f -> f.value().path())
                    .or(() -> backend.first(Implementation.BlockDevice.class).map(b -> b.value().path()));
            if (path.isEmpty()) {
                fail(HttpResponseStatus.INTERNAL_SERVER_ERROR, "the datapath offers no Nbd, File or BlockDevice "
                        + "implementation");
                return;
            }
            try {
                blocking.execute(() -> startQemu(Path.of(path.get())));
            } catch (RejectedExecutionException e) {
                fail(HttpResponseStatus.SERVICE_UNAVAILABLE, "too many NBD exports starting");
            }
        }

        /** On the executor. */
        private void startQemu(Path image) {
            if (finished.get()) {
                return;
            }
            try {
                QemuNbd q = QemuNbd.start(image, qemuDir, QEMU_START);
                qemu = q;
                if (finished.get()) {
                    stopQemu();
                    return;
                }
                inbound.eventLoop().execute(() -> connect(q.socket(), 1));
            } catch (IOException e) {
                inbound.eventLoop().execute(() -> fail(HttpResponseStatus.INTERNAL_SERVER_ERROR, e.getMessage()));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                inbound.eventLoop().execute(() -> fail(HttpResponseStatus.SERVICE_UNAVAILABLE, "interrupted"));
            }
        }

        /** Connects to the NBD server's socket, on the inbound connection's event loop. */
        private void connect(Path socket, int attempt) {
            if (finished.get()) {
                return;
            }
            Bootstrap b = new Bootstrap().group(inbound.eventLoop()).channel(EpollDomainSocketChannel.class)
                    .option(ChannelOption.AUTO_READ, false)
                    .option(ChannelOption.WRITE_BUFFER_WATER_MARK, WATER_MARK)
                    .option(EpollChannelOption.EPOLL_MODE, EpollMode.LEVEL_TRIGGERED)
                    .handler(new ChannelInboundHandlerAdapter());
            ChannelFuture f = b.connect(new DomainSocketAddress(socket.toFile()));
            f.addListener(done -> {
                if (done.isSuccess()) {
                    upgrade(f.channel());
                } else if (done.cause() instanceof ConnectException && qemu != null && qemu.alive()
                        && attempt < CONNECT_ATTEMPTS) {
                    // qemu-nbd made its socket and is about to listen on it
                    inbound.eventLoop().schedule(() -> connect(socket, attempt + 1), attempt, TimeUnit.MILLISECONDS);
                } else {
                    fail(HttpResponseStatus.INTERNAL_SERVER_ERROR, "cannot connect to the NBD server: "
                            + done.cause());
                }
            });
        }

        /** Answers the upgrade and joins the two connections (on the event loop of both). */
        private void upgrade(Channel server) {
            outbound = server;
            if (finished.get() || !inbound.isActive()) {
                server.close(); // the client went away while the server was being reached
                finish();
                return;
            }
            server.closeFuture().addListener(x -> finish());
            ChannelPipeline p = inbound.pipeline();
            for (String name : RemoteEndpoint.HTTP_HANDLERS) {
                if (p.get(name) != null) {
                    p.remove(name);
                }
            }
            inbound.writeAndFlush(Unpooled.wrappedBuffer(NbdUpgrade.ACCEPTED));
            ByteRelay.join(inbound, server);
            relaying = true;
            tell(true);
            LOG.debug("remote endpoint: NBD {} connected{}", target, qemu == null ? "" : " (qemu-nbd pid "
                    + qemu.pid() + ")");
        }

        private void fail(HttpResponseStatus status, String why) {
            if (finished.get()) {
                return;
            }
            LOG.warn("remote endpoint: NBD {} refused ({}): {}", target, status.code(), why);
            if (inbound.isActive()) {
                HttpReplies.refuse(inbound, status, why);
            }
            finish();
        }

        /** Idempotent: closes both connections and stops qemu-nbd. */
        void finish() {
            if (!finished.compareAndSet(false, true)) {
                return;
            }
            sessions.remove(this);
            if (relaying) {
                tell(false);
            }
            if (outbound != null) {
                // before the answer, the refusal (already written) closes the client's connection itself
                ByteRelay.closeOnFlush(outbound);
                ByteRelay.closeOnFlush(inbound);
            }
            if (qemu != null) {
                try {
                    blocking.execute(this::stopQemu);
                } catch (RejectedExecutionException e) {
                    // the endpoint is stopping: its close() stops what is left
                    stopQemuLater.add(this);
                }
            }
        }

        private void tell(boolean connected) {
            try {
                listener.session(target, connected);
            } catch (RuntimeException e) {
                LOG.warn("remote endpoint: NBD {} listener failed: {}", target, e.toString());
            }
        }

        private void stopQemu() {
            QemuNbd q = qemu;
            if (q != null) {
                q.close();
                LOG.debug("remote endpoint: NBD {} ended, qemu-nbd pid {} stopped", target, q.pid());
            }
        }
    }

    /** Sessions whose qemu-nbd could not be handed to the executor (it was shutting down). */
    private final Set<Session> stopQemuLater = ConcurrentHashMap.newKeySet();

    /** Stops, on the calling thread, what {@link Session#finish} could not hand to the executor. */
    void stopLeftovers() {
        for (Session s : List.copyOf(stopQemuLater)) {
            s.stopQemu();
            stopQemuLater.remove(s);
        }
    }

    /**
     * Whether an error from DP.attach_info means the datapath (or its SR or VDI) is not there. The SMAPIv1
     * wrapper says so as upstream's does, in an {@code Internal_error} ({@code Not_found}, {@code ... not attached}).
     */
    static boolean unknownDatapath(StorageError e) {
        if (e instanceof StorageError.InternalError ie) {
            return ie.message().equals("Not_found") || ie.message().endsWith(" not attached");
        }
        return e instanceof StorageError.DoesNotExist || e instanceof StorageError.VdiDoesNotExist
                || e instanceof StorageError.SrNotAttached || e instanceof StorageError.NoStoragePluginForSr;
    }

}
