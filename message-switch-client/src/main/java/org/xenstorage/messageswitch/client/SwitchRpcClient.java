package org.xenstorage.messageswitch.client;

import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.messageswitch.protocol.Message;
import org.xenstorage.messageswitch.protocol.MessageId;
import org.xenstorage.messageswitch.protocol.MessageKind;
import org.xenstorage.messageswitch.protocol.SwitchResponse;

/**
 * Calls named queues over a message-switch: login, a private transient reply queue, send the
 * request with {@code reply_to}, long-poll the reply queue, match the reply by message id, ack.
 * Thread-safe; one instance serves any number of concurrent callers. Reconnects with backoff when
 * the switch goes away; calls in flight at that moment fail with {@link SwitchException.Kind#DISCONNECTED}.
 *
 * <p>Two connections, as upstream: one pipelines sends and acks, the other long-polls the reply
 * queue. Returned futures complete on a small callback pool, never on a Netty event loop, so a
 * caller may block in its continuation.
 */
public final class SwitchRpcClient implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(SwitchRpcClient.class);
    private static final AtomicLong INSTANCES = new AtomicLong();
    /** How long an early reply (arriving before its send was acknowledged) is kept for matching. */
    private static final long EARLY_REPLY_TTL_NANOS = TimeUnit.SECONDS.toNanos(60);

    private final String token;
    private final String replyQueue;
    private final SwitchOptions options;
    private final EventLoopGroup group;
    private final ManagedConnection requests;
    private final ManagedConnection poller;
    private final ExecutorService callbacks;
    private final Set<Call> inFlight = ConcurrentHashMap.newKeySet();
    private final Object matchLock = new Object();
    private final Map<MessageId, Call> awaiting = new HashMap<>();
    private final Map<MessageId, EarlyReply> early = new HashMap<>();
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile long pollGeneration;

    private record EarlyReply(String payload, long arrivedNanos) {
    }

    private SwitchRpcClient(SwitchAddress address, String clientName, SwitchOptions options) {
        this.options = options;
        this.group = Transports.sharedClientGroup();
        this.token = clientName + "-" + ProcessHandle.current().pid() + "-" + INSTANCES.incrementAndGet();
        this.replyQueue = "client-" + token;
        this.callbacks = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "switch-rpc-callback-" + clientName);
            t.setDaemon(true);
            return t;
        });
        // both connections create the reply queue, so a send never races its re-creation after a restart
        this.requests = new ManagedConnection("rpc-client " + token + " (send)", address, group, options,
                c -> c.login(token).thenCompose(v -> c.createTransient(replyQueue)).thenApply(n -> null),
                c -> { }, c -> { });
        this.poller = new ManagedConnection("rpc-client " + token + " (poll)", address, group, options,
                c -> c.login(token).thenCompose(v -> c.createTransient(replyQueue)).thenApply(n -> null),
                this::pollerUp, this::pollerDown);
    }

    /** Connects and logs in (the login token names this process, as upstream does). */
    public static SwitchRpcClient connect(SwitchAddress address, String clientName) {
        return connect(address, clientName, SwitchOptions.defaults());
    }

    /**
     * Connects with explicit options.
     *
     * @throws SwitchException DISCONNECTED when the switch cannot be reached within the connect timeout
     */
    public static SwitchRpcClient connect(SwitchAddress address, String clientName, SwitchOptions options) {
        SwitchRpcClient c = new SwitchRpcClient(address, clientName, options);
        try {
            CompletableFuture.allOf(c.requests.start(), c.poller.start())
                    .get(options.connectTimeout().toMillis() * 2 + 1000, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            c.close();
            throw new SwitchException(SwitchException.Kind.CLOSED, null, "interrupted while connecting");
        } catch (Exception e) {
            c.close();
            throw Failures.asSwitch(e, null, SwitchException.Kind.DISCONNECTED);
        }
        return c;
    }

    /** Connection attempts so far over both connections (a health figure: it grows slowly while the switch is down). */
    public long connectAttempts() {
        return requests.attempts() + poller.attempts();
    }

    /** Whether both connections are up now. */
    public boolean isConnected() {
        return requests.current().isPresent() && poller.current().isPresent();
    }

    /** The private reply queue of this client. */
    public String replyQueue() {
        return replyQueue;
    }

    /**
     * Sends {@code body} to {@code queue} and completes with the reply payload, or exceptionally
     * with a {@link SwitchException} (no such queue, timeout, disconnected, closed).
     */
    public CompletableFuture<String> callAsync(String queue, String body, Duration timeout) {
        return start(new Call(queue, false), body, timeout);
    }

    private CompletableFuture<String> start(Call call, String body, Duration timeout) {
        String queue = call.queue;
        if (closed.get()) {
            call.fail(new SwitchException(SwitchException.Kind.CLOSED, queue, "client is closed"));
            return call.result;
        }
        Optional<SwitchConnection> conn = requests.current();
        if (conn.isEmpty() || poller.current().isEmpty()) {
            call.fail(new SwitchException(SwitchException.Kind.DISCONNECTED, queue,
                    "not connected to the switch (reconnecting)"));
            return call.result;
        }
        inFlight.add(call);
        call.timer = group.next().schedule(() -> call.fail(new SwitchException(SwitchException.Kind.TIMEOUT, queue,
                "no reply from " + queue + " within " + timeout.toMillis() + " ms")), Math.max(1, timeout.toMillis()),
                TimeUnit.MILLISECONDS);
        long gen = pollGeneration;
        conn.get().send(queue, new Message(body, new MessageKind.Request(replyQueue))).whenComplete((id, e) -> {
            if (e != null) {
                call.fail(Failures.asSwitch(e, queue, SwitchException.Kind.DISCONNECTED));
            } else if (id.isEmpty()) {
                call.fail(new SwitchException(SwitchException.Kind.NO_SUCH_QUEUE, queue,
                        "queue " + queue + " does not exist on the switch: nobody serves it"));
            } else {
                register(id.get(), call, gen);
            }
        });
        return call.result;
    }

    /**
     * {@link #callAsync} and wait.
     *
     * @throws SwitchException as callAsync would complete with
     * @throws IllegalStateException when called on a switch event-loop thread (e.g. from an inline handler)
     */
    public String call(String queue, String body, Duration timeout) {
        for (io.netty.util.concurrent.EventExecutor loop : group) {
            if (loop.inEventLoop()) {
                // the reply would have to come through this very thread: fail loudly instead of deadlocking
                throw new IllegalStateException("blocking call to " + queue + " on a switch event loop; use callAsync");
            }
        }
        try {
            // the caller waits on its own thread, so the reply may complete the future right on the event loop
            return start(new Call(queue, true), body, timeout).get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SwitchException(SwitchException.Kind.CLOSED, queue, "interrupted while waiting for " + queue);
        } catch (Exception e) {
            throw Failures.asSwitch(e, queue, SwitchException.Kind.PROTOCOL);
        }
    }

    /** The queue names starting with {@code prefix}; with {@code aliveOnly}, only those someone polls. */
    public CompletableFuture<List<String>> list(String prefix, boolean aliveOnly) {
        return onRequests(c -> c.list(prefix, aliveOnly));
    }

    /** The switch's diagnostic dump. */
    public CompletableFuture<org.xenstorage.messageswitch.protocol.Diagnostics> diagnostics() {
        return onRequests(SwitchConnection::diagnostics);
    }

    private <T> CompletableFuture<T> onRequests(java.util.function.Function<SwitchConnection, CompletableFuture<T>> op) {
        CompletableFuture<T> out = new CompletableFuture<>();
        Optional<SwitchConnection> c = requests.current();
        if (closed.get() || c.isEmpty()) {
            out.completeExceptionally(new SwitchException(closed.get() ? SwitchException.Kind.CLOSED
                    : SwitchException.Kind.DISCONNECTED, null, "not connected to the switch"));
            return out;
        }
        op.apply(c.get()).orTimeout(options.connectTimeout().toMillis() + options.pollTimeout().toMillis(),
                TimeUnit.MILLISECONDS).whenCompleteAsync((v, e) -> {
            if (e != null) {
                out.completeExceptionally(Failures.asSwitch(e, null, SwitchException.Kind.PROTOCOL));
            } else {
                out.complete(v);
            }
        }, callbacks);
        return out;
    }

    // ---- matching replies ----------------------------------------------------------------------

    private void register(MessageId id, Call call, long gen) {
        EarlyReply reply;
        synchronized (matchLock) {
            reply = early.remove(id);
            if (reply == null) {
                if (call.done.get()) {
                    return;
                }
                call.id = id;
                awaiting.put(id, call);
            }
        }
        if (reply != null) {
            call.complete(reply.payload());
        } else if (gen != pollGeneration) {
            // the reply queue was re-created while we sent: the reply may have been dropped with it
            call.fail(new SwitchException(SwitchException.Kind.DISCONNECTED, call.queue,
                    "connection to the switch dropped while calling " + call.queue));
        }
    }

    private void onReply(MessageId requestId, String payload) {
        Call call;
        synchronized (matchLock) {
            call = awaiting.remove(requestId);
            if (call == null) {
                long now = System.nanoTime();
                if (early.size() > 1024) {
                    early.values().removeIf(r -> now - r.arrivedNanos() > EARLY_REPLY_TTL_NANOS);
                }
                early.put(requestId, new EarlyReply(payload, now));
            }
        }
        if (call != null) {
            call.complete(payload);
        }
    }

    private void pollerUp(SwitchConnection c) {
        synchronized (matchLock) {
            pollGeneration++;
        }
        poll(c, Optional.empty());
    }

    private void pollerDown(SwitchConnection c) {
        // the reply queue may be gone with the session: calls awaiting a reply cannot rely on it
        List<Call> lost = new ArrayList<>();
        synchronized (matchLock) {
            pollGeneration++;
            lost.addAll(awaiting.values());
            awaiting.clear();
            early.clear();
        }
        for (Call call : lost) {
            call.fail(new SwitchException(closed.get() ? SwitchException.Kind.CLOSED : SwitchException.Kind.DISCONNECTED,
                    call.queue, "connection to the switch dropped while calling " + call.queue));
        }
    }

    private void poll(SwitchConnection c, Optional<String> from) {
        if (closed.get() || !c.isOpen()) {
            return;
        }
        c.transfer(from, options.pollTimeout(), List.of(replyQueue)).whenComplete((t, e) -> {
            if (e != null) {
                if (c.isOpen() && !closed.get()) {
                    LOG.warn("polling reply queue {} failed: {}; retrying", replyQueue, Failures.strip(e).getMessage());
                    group.next().schedule(() -> poll(c, from), options.backoffInitial().toMillis(), TimeUnit.MILLISECONDS);
                }
                return;
            }
            Optional<SwitchConnection> acker = requests.current();
            for (SwitchResponse.Delivery d : t.messages()) {
                if (d.message().kind() instanceof MessageKind.Response r) {
                    onReply(r.requestId(), d.message().payload());
                }
                acker.ifPresent(a -> a.ack(d.id()));
            }
            poll(c, Optional.of(t.next()));
        });
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        requests.close();
        poller.close();
        for (Call call : new ArrayList<>(inFlight)) {
            call.fail(new SwitchException(SwitchException.Kind.CLOSED, call.queue, "client closed while calling " + call.queue));
        }
        callbacks.shutdown();
    }

    /** One outstanding call: completes exactly once, with the reply or a {@link SwitchException}. */
    private final class Call {
        final String queue;
        final CompletableFuture<String> result = new CompletableFuture<>();
        final AtomicBoolean done = new AtomicBoolean();
        volatile ScheduledFuture<?> timer;
        volatile MessageId id;

        /** Complete on the thread that has the outcome: only for callers blocked in {@link #call}. */
        final boolean inline;

        Call(String queue, boolean inline) {
            this.queue = queue;
            this.inline = inline;
        }

        void complete(String payload) {
            if (done.compareAndSet(false, true)) {
                finish();
                deliver(() -> result.complete(payload));
            }
        }

        void fail(SwitchException e) {
            if (done.compareAndSet(false, true)) {
                finish();
                deliver(() -> result.completeExceptionally(e));
            }
        }

        private void finish() {
            ScheduledFuture<?> t = timer;
            if (t != null) {
                t.cancel(false);
            }
            inFlight.remove(this);
            MessageId i = id;
            if (i != null) {
                synchronized (matchLock) {
                    awaiting.remove(i, this);
                }
            }
        }

        private void deliver(Runnable r) {
            if (inline) {
                r.run();
                return;
            }
            try {
                callbacks.execute(r);
            } catch (RuntimeException rejected) {
                r.run(); // pool already shut down: complete here rather than never
            }
        }
    }

}
