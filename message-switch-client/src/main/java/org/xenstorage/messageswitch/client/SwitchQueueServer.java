package org.xenstorage.messageswitch.client;

import io.netty.channel.EventLoopGroup;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.messageswitch.protocol.Message;
import org.xenstorage.messageswitch.protocol.MessageId;
import org.xenstorage.messageswitch.protocol.MessageKind;
import org.xenstorage.messageswitch.protocol.SwitchResponse;

/**
 * Serves one queue: long-polls it, hands each request payload to the handler with at most
 * {@code maxConcurrent} in flight, sends the handler's reply to the request's {@code reply_to},
 * and acks the request only after the reply was sent. Never blocks an event loop: the handler
 * is invoked on a handler thread, returns a future and may complete it from any thread.
 * Re-creates the queue and resumes serving after a reconnect.
 *
 * <p>Requests stay on the switch until acked, so a request whose reply could not be sent (the
 * switch went away) is delivered again after the reconnect; its reply is then re-sent without
 * running the handler a second time.
 */
public final class SwitchQueueServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(SwitchQueueServer.class);
    private static final AtomicLong INSTANCES = new AtomicLong();

    private final String queue;
    private final int maxConcurrent;
    private final Function<String, CompletableFuture<String>> handler;
    private final SwitchOptions options;
    private final EventLoopGroup group;
    private final ManagedConnection poller;
    private final ManagedConnection replier;
    private final Executor handlers;
    private final ExecutorService ownPool;

    // guarded by 'this'
    private final ArrayDeque<SwitchResponse.Delivery> backlog = new ArrayDeque<>();
    private final Set<MessageId> seen = new HashSet<>();
    private final Map<MessageId, Unsent> unsent = new HashMap<>();
    private int running;
    private boolean pumping;
    private boolean pumpRequested;
    private SwitchConnection parkedPoll;
    private Optional<String> parkedFrom = Optional.empty();
    private boolean stopping;
    private final AtomicLong served = new AtomicLong();

    private record Unsent(String replyTo, String payload) {
    }

    private SwitchQueueServer(SwitchAddress address, String queue, int maxConcurrent,
                              Function<String, CompletableFuture<String>> handler, SwitchOptions options,
                              Executor handlerExecutor) {
        if (maxConcurrent < 1) {
            throw new IllegalArgumentException("maxConcurrent must be at least 1, got " + maxConcurrent);
        }
        this.queue = queue;
        this.maxConcurrent = maxConcurrent;
        this.handler = handler;
        this.options = options;
        this.group = Transports.sharedClientGroup();
        String token = "server-" + queue + "-" + ProcessHandle.current().pid() + "-" + INSTANCES.incrementAndGet();
        this.ownPool = handlerExecutor == null ? Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "switch-handler-" + queue);
            t.setDaemon(true);
            return t;
        }) : null;
        this.handlers = handlerExecutor == null ? ownPool : handlerExecutor;
        this.poller = new ManagedConnection("queue-server " + queue + " (poll)", address, group, options,
                c -> c.login(token).thenCompose(v -> c.createPersistent(queue)).thenApply(n -> null),
                c -> poll(c, Optional.empty()), c -> { });
        this.replier = new ManagedConnection("queue-server " + queue + " (reply)", address, group, options,
                c -> c.login(token), c -> flushUnsent(), c -> { });
    }

    /**
     * Creates (persistent) {@code queue} on the switch at {@code address} and starts serving it.
     * A handler that completes exceptionally or throws gets no reply sent; the caller's timeout
     * covers it, so handlers should turn their own failures into reply payloads.
     */
    public static SwitchQueueServer start(SwitchAddress address, String queue, int maxConcurrent,
                                          Function<String, CompletableFuture<String>> handler) {
        return start(address, queue, maxConcurrent, handler, SwitchOptions.defaults());
    }

    /**
     * {@link #start(SwitchAddress, String, int, Function)} with explicit options.
     *
     * @throws SwitchException DISCONNECTED when the switch cannot be reached within the connect timeout
     */
    public static SwitchQueueServer start(SwitchAddress address, String queue, int maxConcurrent,
                                          Function<String, CompletableFuture<String>> handler, SwitchOptions options) {
        return start(address, queue, maxConcurrent, handler, options, null);
    }

    /**
     * As above, invoking the handler on {@code handlerExecutor} instead of the server's own pool
     * (null: the own pool). {@code Runnable::run} runs it on the event loop that delivered the
     * request, which saves a thread hop per request; only for handlers that never block.
     */
    public static SwitchQueueServer start(SwitchAddress address, String queue, int maxConcurrent,
                                          Function<String, CompletableFuture<String>> handler, SwitchOptions options,
                                          Executor handlerExecutor) {
        SwitchQueueServer s = new SwitchQueueServer(address, queue, maxConcurrent, handler, options, handlerExecutor);
        try {
            // replier first: the poller starts delivering as soon as it is up
            s.replier.start().get(options.connectTimeout().toMillis() * 2 + 1000, TimeUnit.MILLISECONDS);
            s.poller.start().get(options.connectTimeout().toMillis() * 2 + 1000, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            s.close();
            throw new SwitchException(SwitchException.Kind.CLOSED, queue, "interrupted while starting");
        } catch (Exception e) {
            s.close();
            throw Failures.asSwitch(e, queue, SwitchException.Kind.DISCONNECTED);
        }
        return s;
    }

    public String queue() {
        return queue;
    }

    /** Connection attempts so far over both connections. */
    public long connectAttempts() {
        return poller.attempts() + replier.attempts();
    }

    /** Whether both connections are up now. */
    public boolean isConnected() {
        return poller.current().isPresent() && replier.current().isPresent();
    }

    /** Requests answered (reply sent and acked, or handler failed and acked) so far. */
    public long served() {
        return served.get();
    }

    // ---- polling -------------------------------------------------------------------------------

    private void poll(SwitchConnection c, Optional<String> from) {
        synchronized (this) {
            if (stopping || !c.isOpen()) {
                return;
            }
            if (backlog.size() >= maxConcurrent) {
                // enough work queued locally: resume polling when handlers catch up
                parkedPoll = c;
                parkedFrom = from;
                return;
            }
        }
        c.transfer(from, options.pollTimeout(), List.of(queue)).whenComplete((t, e) -> {
            if (e != null) {
                if (c.isOpen() && !isStopping()) {
                    LOG.warn("polling {} failed: {}; retrying", queue, Failures.strip(e).getMessage());
                    group.next().schedule(() -> poll(c, from), options.backoffInitial().toMillis(), TimeUnit.MILLISECONDS);
                }
                return;
            }
            accept(t.messages());
            poll(c, Optional.of(t.next()));
        });
    }

    private synchronized boolean isStopping() {
        return stopping;
    }

    private void accept(List<SwitchResponse.Delivery> messages) {
        List<SwitchResponse.Delivery> resend = new java.util.ArrayList<>();
        synchronized (this) {
            for (SwitchResponse.Delivery d : messages) {
                if (!seen.add(d.id())) {
                    continue; // already queued here or running: a redelivery after reconnect
                }
                if (unsent.containsKey(d.id())) {
                    resend.add(d);
                } else {
                    backlog.add(d);
                }
            }
        }
        for (SwitchResponse.Delivery d : resend) {
            Unsent u;
            synchronized (this) {
                u = unsent.remove(d.id());
                running++;
            }
            reply(d, u.replyTo(), u.payload());
        }
        pump();
    }

    /**
     * Starts queued requests while fewer than maxConcurrent run. One thread pumps at a time; a
     * pump asked for meanwhile (e.g. by a handler that finished inline) makes it go round again
     * instead of recursing, so an inline handler cannot grow the stack with the backlog.
     */
    private void pump() {
        synchronized (this) {
            if (pumping) {
                pumpRequested = true;
                return;
            }
            pumping = true;
        }
        boolean again = true;
        try {
            while (again) {
                pumpOnce();
                synchronized (this) {
                    again = pumpRequested;
                    pumpRequested = false;
                    if (!again) {
                        pumping = false;
                    }
                }
            }
        } catch (RuntimeException e) {
            synchronized (this) {
                pumping = false;
            }
            throw e;
        }
    }

    private void pumpOnce() {
        while (true) {
            SwitchResponse.Delivery d;
            synchronized (this) {
                if (running >= maxConcurrent || backlog.isEmpty()) {
                    break;
                }
                d = backlog.poll();
                running++;
            }
            try {
                handlers.execute(() -> run(d));
            } catch (RuntimeException rejected) {
                finish(d, false);
            }
        }
        SwitchConnection resume = null;
        Optional<String> from;
        synchronized (this) {
            from = parkedFrom;
            if (parkedPoll != null && backlog.size() < maxConcurrent && !stopping) {
                resume = parkedPoll;
                parkedPoll = null;
            }
        }
        if (resume != null) {
            poll(resume, from);
        }
    }

    private void run(SwitchResponse.Delivery d) {
        if (!(d.message().kind() instanceof MessageKind.Request r)) {
            LOG.debug("{}: ignoring a non-request message {}", queue, d.id());
            ackThenFinish(d);
            return;
        }
        CompletableFuture<String> f;
        try {
            f = handler.apply(d.message().payload());
            if (f == null) {
                throw new IllegalStateException("handler returned no future");
            }
        } catch (RuntimeException e) {
            f = CompletableFuture.failedFuture(e);
        }
        f.whenComplete((reply, e) -> {
            if (e != null || reply == null) {
                LOG.warn("{}: handler failed for request {}: {}; no reply sent", queue, d.id(),
                        e == null ? "null reply" : Failures.strip(e).toString());
                ackThenFinish(d);
            } else {
                reply(d, r.replyTo(), reply);
            }
        });
    }

    private void reply(SwitchResponse.Delivery d, String replyTo, String payload) {
        Optional<SwitchConnection> c = replier.current();
        if (c.isEmpty()) {
            keepUnsent(d, replyTo, payload);
            return;
        }
        // The ack is pipelined right behind the reply on the same connection: the switch answers a
        // connection's requests in order, so it acks only after it has queued the reply.
        CompletableFuture<?> sent = c.get().send(replyTo, new Message(payload, new MessageKind.Response(d.id())));
        CompletableFuture<Void> acked = c.get().ack(d.id());
        CompletableFuture.allOf(sent, acked)
                .whenComplete((v, e) -> {
                    if (e != null) {
                        keepUnsent(d, replyTo, payload);
                    } else {
                        finish(d, true);
                    }
                });
    }

    /** Sends the replies that were left over by a dropped reply connection (the requests are still unacked). */
    private void flushUnsent() {
        List<Map.Entry<MessageId, Unsent>> todo = new java.util.ArrayList<>();
        synchronized (this) {
            for (Map.Entry<MessageId, Unsent> e : unsent.entrySet()) {
                if (seen.add(e.getKey())) {
                    todo.add(Map.entry(e.getKey(), e.getValue()));
                    running++;
                }
            }
            todo.forEach(e -> unsent.remove(e.getKey()));
        }
        for (Map.Entry<MessageId, Unsent> e : todo) {
            reply(new SwitchResponse.Delivery(e.getKey(), new Message(e.getValue().payload(),
                    new MessageKind.Request(e.getValue().replyTo()))), e.getValue().replyTo(), e.getValue().payload());
        }
    }

    private void keepUnsent(SwitchResponse.Delivery d, String replyTo, String payload) {
        synchronized (this) {
            unsent.put(d.id(), new Unsent(replyTo, payload));
        }
        finish(d, false);
    }

    private void ackThenFinish(SwitchResponse.Delivery d) {
        Optional<SwitchConnection> c = replier.current();
        if (c.isEmpty()) {
            finish(d, false);
            return;
        }
        c.get().ack(d.id()).whenComplete((v, e) -> finish(d, e == null));
    }

    private void finish(SwitchResponse.Delivery d, boolean done) {
        synchronized (this) {
            running--;
            seen.remove(d.id());
            notifyAll();
        }
        if (done) {
            served.incrementAndGet();
        }
        pump();
    }

    /** Stops taking new requests, waits up to {@code grace} for in-flight ones to reply, then closes. */
    public void shutdown(Duration grace) {
        long deadline = System.nanoTime() + grace.toNanos();
        synchronized (this) {
            stopping = true;
            backlog.clear(); // not started, not acked: the switch keeps them for the next server
            try {
                while (running > 0) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        break;
                    }
                    TimeUnit.NANOSECONDS.timedWait(this, left);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        close();
    }

    @Override
    public void close() {
        synchronized (this) {
            stopping = true;
            backlog.clear();
        }
        poller.close();
        replier.close();
        if (ownPool != null) {
            ownPool.shutdown();
        }
    }
}
