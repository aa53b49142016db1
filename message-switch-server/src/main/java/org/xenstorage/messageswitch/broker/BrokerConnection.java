package org.xenstorage.messageswitch.broker;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.messageswitch.protocol.Entry;
import org.xenstorage.messageswitch.protocol.HttpWire;
import org.xenstorage.messageswitch.protocol.MessageKind;
import org.xenstorage.messageswitch.protocol.Origin;
import org.xenstorage.messageswitch.protocol.ProtocolException;
import org.xenstorage.messageswitch.protocol.SwitchRequest;
import org.xenstorage.messageswitch.protocol.SwitchResponse;
import org.xenstorage.messageswitch.protocol.TraceEvent;

/**
 * One client connection to the broker. Requests are answered strictly in arrival order (HTTP/1.1
 * pipelining): while a long-poll waits, later requests on the same connection queue behind it,
 * as they do on upstream's switch. Everything runs on the connection's event loop; a long-poll
 * is a registered waiter plus a scheduled timeout, never a blocked thread.
 */
final class BrokerConnection extends SimpleChannelInboundHandler<FullHttpRequest> {
    private static final Logger LOG = LoggerFactory.getLogger(BrokerConnection.class);
    static final String NOT_FOUND_BODY = "Not found";

    private final EmbeddedSwitch sw;
    private final String connectionId;
    private final ArrayDeque<Incoming> inbox = new ArrayDeque<>();
    private final Set<String> polled = new LinkedHashSet<>();
    private ChannelHandlerContext ctx;
    private String session;
    private boolean busy;
    private boolean needsFlush;
    private boolean inactive;
    private Runnable cancelWait;

    private record Incoming(String method, String uri, String body, boolean keepAlive, boolean decodable) {
    }

    BrokerConnection(EmbeddedSwitch sw, String connectionId) {
        this.sw = sw;
        this.connectionId = connectionId;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        this.ctx = ctx;
        super.channelActive(ctx);
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
        this.ctx = ctx;
        inbox.add(new Incoming(req.method().name(), req.uri(), req.content().toString(StandardCharsets.UTF_8),
                HttpUtil.isKeepAlive(req), req.decoderResult().isSuccess()));
        drain();
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        flushIfNeeded();
    }

    private void flushIfNeeded() {
        if (needsFlush) {
            needsFlush = false;
            ctx.flush();
        }
    }

    private void drain() {
        while (!busy && !inactive) {
            Incoming in = inbox.poll();
            if (in == null) {
                return;
            }
            busy = true;
            handle(in);
        }
    }

    private void handle(Incoming in) {
        if (!in.decodable()) {
            respond(in, new SwitchResponse.Reply(400, "malformed HTTP request"), true);
            return;
        }
        Optional<SwitchRequest> parsed;
        try {
            parsed = SwitchRequest.parse(in.method(), in.uri(), in.body());
        } catch (ProtocolException e) {
            respond(in, new SwitchResponse.Reply(400, e.getMessage()), false);
            return;
        }
        if (parsed.isEmpty()) {
            LOG.debug("unparsable request {} {}", in.method(), in.uri());
            respond(in, new SwitchResponse.Reply(404, NOT_FOUND_BODY), false);
            return;
        }
        SwitchRequest r = parsed.get();
        if (session == null && !r.allowedWithoutSession()) {
            respond(in, new SwitchResponse.NotLoggedIn().toHttp(), false);
            return;
        }
        if (r instanceof SwitchRequest.Transfer t) {
            transfer(in, t);
        } else if (r instanceof SwitchRequest.Trace t) {
            trace(in, t);
        } else {
            respond(in, answer(r).toHttp(), false);
        }
    }

    /** Every request that is answered at once. */
    private SwitchResponse answer(SwitchRequest r) {
        QueueTable table = sw.table();
        if (r instanceof SwitchRequest.Login l) {
            sw.sessions().login(this, session, l.token());
            session = l.token();
            return new SwitchResponse.LoggedIn();
        }
        if (r instanceof SwitchRequest.CreatePersistent c) {
            table.create(c.name(), null);
            return new SwitchResponse.Created(c.name());
        }
        if (r instanceof SwitchRequest.CreateTransient c) {
            table.create(c.name(), session);
            return new SwitchResponse.Created(c.name());
        }
        if (r instanceof SwitchRequest.Destroy d) {
            table.destroy(d.name());
            return new SwitchResponse.Destroyed();
        }
        if (r instanceof SwitchRequest.Send s) {
            QueueTable.Sent sent = table.send(s.queue(), new Origin.Name(session), s.message(), sw.nowNanos());
            sent.woken().forEach(QueueTable.Waiter::wake);
            sent.id().ifPresent(id -> sw.trace().add(new TraceEvent(sw.nowSeconds(), Optional.of(session), s.queue(),
                    Optional.empty(), new TraceEvent.Sent(id, s.message()), OptionalLong.empty())));
            return new SwitchResponse.Sent(sent.id());
        }
        if (r instanceof SwitchRequest.Ack a) {
            sw.trace().add(new TraceEvent(sw.nowSeconds(), Optional.of(session), a.id().queue(), Optional.empty(),
                    new TraceEvent.Acked(a.id()), OptionalLong.empty()));
            table.ack(a.id());
            return new SwitchResponse.Acked();
        }
        if (r instanceof SwitchRequest.ListQueues l) {
            return new SwitchResponse.Listed(table.list(l.prefix(), l.aliveOnly()));
        }
        if (r instanceof SwitchRequest.DiagnosticsRequest) {
            return new SwitchResponse.Dump(table.snapshot(sw.startNanos(), sw.nowNanos()));
        }
        if (r instanceof SwitchRequest.Shutdown) {
            LOG.info("shutdown requested by session {}", session);
            sw.shutdownSoon();
            return new SwitchResponse.ShuttingDown();
        }
        if (r instanceof SwitchRequest.Get g) {
            return new SwitchResponse.Resource(sw.adminPage(g.path()));
        }
        throw new IllegalStateException("unhandled request " + r);
    }

    // ---- long-polls ----------------------------------------------------------------------------

    private void transfer(Incoming in, SwitchRequest.Transfer t) {
        long timeoutNanos = (long) (Math.max(0.0, t.timeoutSeconds()) * 1e9);
        long deadline = System.nanoTime() + timeoutNanos;
        long expect = sw.nowNanos() + timeoutNanos;
        polled.addAll(t.queues());
        attemptTransfer(in, t, t.fromId(), deadline, expect);
    }

    private void attemptTransfer(Incoming in, SwitchRequest.Transfer t, long from, long deadline, long expect) {
        QueueTable table = sw.table();
        while (true) {
            List<SwitchResponse.Delivery> ms = table.transfer(from, t.queues(), expect, this);
            long left = deadline - System.nanoTime();
            if (!ms.isEmpty() || left <= 0) {
                long next = from;
                for (SwitchResponse.Delivery d : ms) {
                    next = Math.max(next, d.id().id());
                    traceDelivery(d);
                }
                respond(in, new SwitchResponse.Transferred(ms, Long.toString(next)).toHttp(), false);
                return;
            }
            AtomicBoolean fired = new AtomicBoolean();
            ScheduledFuture<?>[] timer = new ScheduledFuture<?>[1];
            QueueTable.Waiter[] self = new QueueTable.Waiter[1];
            QueueTable.Waiter w = () -> {
                if (fired.compareAndSet(false, true)) {
                    ctx.executor().execute(() -> {
                        table.cancel(t.queues(), self[0]); // still listed on the queues that did not wake it
                        resumeTransfer(in, t, from, deadline, expect, timer[0]);
                    });
                }
            };
            self[0] = w;
            if (!table.await(from, t.queues(), w)) {
                continue; // a message arrived between transfer and await
            }
            timer[0] = ctx.executor().schedule(w::wake, left, TimeUnit.NANOSECONDS);
            cancelWait = () -> {
                fired.set(true);
                table.cancel(t.queues(), w);
                timer[0].cancel(false);
            };
            return;
        }
    }

    private void resumeTransfer(Incoming in, SwitchRequest.Transfer t, long from, long deadline, long expect,
                                ScheduledFuture<?> timer) {
        cancelWait = null;
        if (timer != null) {
            timer.cancel(false);
        }
        if (inactive) {
            return;
        }
        attemptTransfer(in, t, from, deadline, expect);
        finishAsync();
    }

    private void traceDelivery(SwitchResponse.Delivery d) {
        OptionalLong processing = OptionalLong.empty();
        if (d.message().kind() instanceof MessageKind.Response r) {
            Optional<Entry> req = sw.table().entry(r.requestId());
            if (req.isPresent()) {
                processing = OptionalLong.of(sw.nowNanos() - req.get().time());
            }
        }
        sw.trace().add(new TraceEvent(sw.nowSeconds(), Optional.empty(), d.id().queue(), Optional.ofNullable(session),
                new TraceEvent.Sent(d.id(), d.message()), processing));
    }

    private void trace(Incoming in, SwitchRequest.Trace t) {
        long deadline = System.nanoTime() + (long) (Math.max(0.0, t.timeoutSeconds()) * 1e9);
        attemptTrace(in, t, deadline);
    }

    private void attemptTrace(Incoming in, SwitchRequest.Trace t, long deadline) {
        TraceLog log = sw.trace();
        while (true) {
            List<SwitchResponse.NumberedEvent> es = log.after(t.ackTo());
            long left = deadline - System.nanoTime();
            if (!es.isEmpty() || left <= 0) {
                respond(in, new SwitchResponse.Traced(es).toHttp(), false);
                return;
            }
            AtomicBoolean fired = new AtomicBoolean();
            ScheduledFuture<?>[] timer = new ScheduledFuture<?>[1];
            TraceLog.Waiter w = () -> {
                if (fired.compareAndSet(false, true)) {
                    ctx.executor().execute(() -> {
                        cancelWait = null;
                        if (timer[0] != null) {
                            timer[0].cancel(false);
                        }
                        if (!inactive) {
                            attemptTrace(in, t, deadline);
                            finishAsync();
                        }
                    });
                }
            };
            if (!log.await(t.ackTo(), w)) {
                continue;
            }
            timer[0] = ctx.executor().schedule(w::wake, left, TimeUnit.NANOSECONDS);
            cancelWait = () -> {
                fired.set(true);
                log.cancel(w);
                timer[0].cancel(false);
            };
            return;
        }
    }

    /** After an answer given outside channelRead: flush it and go on with queued requests. */
    private void finishAsync() {
        drain();
        flushIfNeeded();
    }

    private void respond(Incoming in, SwitchResponse.Reply reply, boolean forceClose) {
        ctx.write(Unpooled.wrappedBuffer(HttpWire.response(reply)), ctx.voidPromise());
        needsFlush = true;
        busy = false;
        if (forceClose || !in.keepAlive()) {
            needsFlush = false;
            ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
            inactive = true;
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        inactive = true;
        Runnable c = cancelWait;
        cancelWait = null;
        if (c != null) {
            c.run();
        }
        sw.table().pollerGone(this, new ArrayList<>(polled));
        sw.sessions().disconnect(this, session);
        super.channelInactive(ctx);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LOG.debug("connection {}: {}", connectionId, cause.toString());
        ctx.close();
    }
}
