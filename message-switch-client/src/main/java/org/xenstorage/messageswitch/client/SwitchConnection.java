package org.xenstorage.messageswitch.client;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.messageswitch.protocol.Diagnostics;
import org.xenstorage.messageswitch.protocol.HttpWire;
import org.xenstorage.messageswitch.protocol.Message;
import org.xenstorage.messageswitch.protocol.MessageId;
import org.xenstorage.messageswitch.protocol.ProtocolException;
import org.xenstorage.messageswitch.protocol.SwitchRequest;
import org.xenstorage.messageswitch.protocol.SwitchResponse;

/**
 * One HTTP/1.1 keep-alive connection to the switch. Requests are pipelined: each is written at
 * once and its future completes when the matching response (switch answers in order) arrives, on
 * the connection's event loop, so callers must not block in their callbacks. When the connection
 * drops every outstanding request fails with {@link SwitchException.Kind#DISCONNECTED}.
 * No reconnect here: that is {@link ManagedConnection}'s job.
 */
public final class SwitchConnection implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(SwitchConnection.class);

    private final Channel channel;
    private final ArrayDeque<Pending> pending = new ArrayDeque<>();
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    private boolean open = true;
    private volatile boolean closedLocally;

    private record Pending(SwitchRequest request, CompletableFuture<SwitchResponse> future) {
    }

    private SwitchConnection(Channel channel) {
        this.channel = channel;
    }

    /** Connects (no login); the future fails with a DISCONNECTED {@link SwitchException}. */
    public static CompletableFuture<SwitchConnection> open(SwitchAddress address, EventLoopGroup group,
                                                           SwitchOptions options) {
        CompletableFuture<SwitchConnection> result = new CompletableFuture<>();
        SwitchConnection[] holder = new SwitchConnection[1];
        ChannelFuture cf;
        try {
            cf = Transports.bootstrap(address, group, options.connectTimeout())
                    .handler(new ChannelInitializer<Channel>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            SwitchConnection c = new SwitchConnection(ch);
                            holder[0] = c;
                            ch.pipeline().addLast(new HttpResponseDecoder(4096, 8192, 65536),
                                    new HttpObjectAggregator(options.maxBodyBytes()), c.new ResponseHandler());
                            ch.closeFuture().addListener(f -> c.onClosed());
                        }
                    }).connect(Transports.socketAddress(address));
        } catch (RuntimeException e) {
            result.completeExceptionally(e instanceof SwitchException ? e
                    : new SwitchException(SwitchException.Kind.DISCONNECTED, null, "cannot connect to " + address, e));
            return result;
        }
        cf.addListener(f -> {
            if (f.isSuccess()) {
                result.complete(holder[0]);
            } else {
                result.completeExceptionally(new SwitchException(SwitchException.Kind.DISCONNECTED, null,
                        "cannot connect to the switch at " + address + ": " + f.cause(), f.cause()));
            }
        });
        return result;
    }

    /** Sends {@code request}; completes with the switch's answer (which may be {@link SwitchResponse.NotLoggedIn}). */
    public CompletableFuture<SwitchResponse> request(SwitchRequest request) {
        CompletableFuture<SwitchResponse> f = new CompletableFuture<>();
        Pending p = new Pending(request, f);
        byte[] bytes = HttpWire.request(request);
        // Queue and write on the event loop only: a write from another thread would be a task that a
        // later write made on the loop itself overtakes, and answers would meet the wrong requests.
        if (channel.eventLoop().inEventLoop()) {
            write(p, bytes);
        } else {
            try {
                channel.eventLoop().execute(() -> write(p, bytes));
            } catch (RuntimeException rejected) {
                f.completeExceptionally(gone());
            }
        }
        return f;
    }

    private void write(Pending p, byte[] bytes) {
        synchronized (pending) {
            if (!open) {
                p.future().completeExceptionally(gone());
                return;
            }
            pending.add(p);
        }
        channel.writeAndFlush(Unpooled.wrappedBuffer(bytes), channel.voidPromise());
    }

    private SwitchException gone() {
        return closedLocally
                ? new SwitchException(SwitchException.Kind.CLOSED, null, "connection to the switch was closed")
                : new SwitchException(SwitchException.Kind.DISCONNECTED, null, "connection to the switch dropped");
    }

    private <T extends SwitchResponse> CompletableFuture<T> expect(SwitchRequest request, Class<T> type) {
        return request(request).thenApply(r -> {
            if (type.isInstance(r)) {
                return type.cast(r);
            }
            if (r instanceof SwitchResponse.NotLoggedIn) {
                throw new SwitchException(SwitchException.Kind.PROTOCOL, null, "the switch says: Please log in.");
            }
            throw new SwitchException(SwitchException.Kind.PROTOCOL, null, "unexpected answer " + r);
        });
    }

    public CompletableFuture<Void> login(String token) {
        return expect(new SwitchRequest.Login(token), SwitchResponse.LoggedIn.class).thenApply(r -> null);
    }

    public CompletableFuture<String> createPersistent(String name) {
        return expect(new SwitchRequest.CreatePersistent(name), SwitchResponse.Created.class).thenApply(SwitchResponse.Created::name);
    }

    public CompletableFuture<String> createTransient(String name) {
        return expect(new SwitchRequest.CreateTransient(name), SwitchResponse.Created.class).thenApply(SwitchResponse.Created::name);
    }

    public CompletableFuture<Void> destroy(String name) {
        return expect(new SwitchRequest.Destroy(name), SwitchResponse.Destroyed.class).thenApply(r -> null);
    }

    /** Enqueues a message; empty when the queue does not exist. */
    public CompletableFuture<Optional<MessageId>> send(String queue, Message message) {
        return expect(new SwitchRequest.Send(queue, message), SwitchResponse.Sent.class).thenApply(SwitchResponse.Sent::id);
    }

    /**
     * Long-polls. A switch that has not answered 30 s after the poll's own timeout is taken for
     * dead: the connection is dropped (so a reconnect follows) and the future fails.
     */
    public CompletableFuture<SwitchResponse.Transferred> transfer(Optional<String> from, Duration timeout, List<String> queues) {
        CompletableFuture<SwitchResponse.Transferred> f =
                expect(new SwitchRequest.Transfer(from, timeout.toMillis() / 1000.0, queues), SwitchResponse.Transferred.class);
        f.orTimeout(timeout.toMillis() + DEAD_SWITCH_GRACE_MS, java.util.concurrent.TimeUnit.MILLISECONDS)
                .whenComplete((r, e) -> {
                    if (e != null && Failures.strip(e) instanceof java.util.concurrent.TimeoutException) {
                        LOG.warn("the switch did not answer a long-poll in time; dropping the connection");
                        channel.close();
                    }
                });
        return f;
    }

    /** How long past a long-poll's timeout the switch may take to answer it. */
    static final long DEAD_SWITCH_GRACE_MS = 30_000;

    public CompletableFuture<Void> ack(MessageId id) {
        return expect(new SwitchRequest.Ack(id), SwitchResponse.Acked.class).thenApply(r -> null);
    }

    public CompletableFuture<List<String>> list(String prefix, boolean aliveOnly) {
        return expect(new SwitchRequest.ListQueues(prefix, aliveOnly), SwitchResponse.Listed.class).thenApply(SwitchResponse.Listed::names);
    }

    public CompletableFuture<Diagnostics> diagnostics() {
        return expect(new SwitchRequest.DiagnosticsRequest(), SwitchResponse.Dump.class).thenApply(SwitchResponse.Dump::diagnostics);
    }

    public CompletableFuture<List<SwitchResponse.NumberedEvent>> trace(long ackTo, Duration timeout) {
        return expect(new SwitchRequest.Trace(ackTo, timeout.toMillis() / 1000.0), SwitchResponse.Traced.class)
                .thenApply(SwitchResponse.Traced::events);
    }

    public CompletableFuture<Void> shutdownSwitch() {
        return expect(new SwitchRequest.Shutdown(), SwitchResponse.ShuttingDown.class).thenApply(r -> null);
    }

    public boolean isOpen() {
        synchronized (pending) {
            return open;
        }
    }

    /** Completes when the connection is gone (dropped or closed). */
    public CompletableFuture<Void> closeFuture() {
        return closed;
    }

    @Override
    public void close() {
        closedLocally = true;
        channel.close();
    }

    private void onClosed() {
        List<Pending> failed;
        synchronized (pending) {
            open = false;
            failed = new ArrayList<>(pending);
            pending.clear();
        }
        for (Pending p : failed) {
            p.future().completeExceptionally(gone());
        }
        closed.complete(null);
    }

    private final class ResponseHandler extends SimpleChannelInboundHandler<FullHttpResponse> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse msg) {
            Pending p;
            synchronized (pending) {
                p = pending.poll();
            }
            if (p == null && !isOpen()) {
                return; // bytes decoded after the close: their requests already failed DISCONNECTED
            }
            if (p == null) {
                LOG.warn("switch sent a response nobody asked for; closing the connection");
                ctx.close();
                return;
            }
            if (!msg.decoderResult().isSuccess()) {
                p.future().completeExceptionally(new SwitchException(SwitchException.Kind.PROTOCOL, null,
                        "unreadable HTTP response from the switch", msg.decoderResult().cause()));
                ctx.close();
                return;
            }
            String body = msg.content().toString(StandardCharsets.UTF_8);
            SwitchResponse r;
            try {
                r = SwitchResponse.decode(p.request(), msg.status().code(), body);
            } catch (ProtocolException e) {
                p.future().completeExceptionally(new SwitchException(SwitchException.Kind.PROTOCOL, null, e.getMessage(), e));
                return;
            }
            p.future().complete(r);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            LOG.debug("switch connection error: {}", cause.toString());
            ctx.close();
        }
    }
}
