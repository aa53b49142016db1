package org.xenstorage.messageswitch.client;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;

/**
 * The queues this JVM serves itself, so that a caller in the same JVM can hand a request straight to the
 * handler instead of making a switch round trip. A server registers the same handler it gives its
 * {@link SwitchQueueServer}, with the same window: at most {@code maxConcurrent} requests of a queue run at once
 * and the rest wait, in order, as they would wait on the switch. The request text reaches the handler unchanged
 * and its reply text comes back unchanged, so a caller sees exactly what the switch path gives.
 *
 * <p>Failures have the switch path's shape: no reply within the timeout is a {@link SwitchException} of kind
 * {@code TIMEOUT} with the same text. A handler that throws, or completes exceptionally, fails the call at once
 * with that exception (over the switch such a request gets no reply and the caller waits for its timeout).
 *
 * <p>A queue that is not registered here is not served in this JVM: {@link #call} answers empty and the caller
 * uses the switch. Thread-safe; {@link #call} never blocks.
 */
public final class InProcessQueues {
    private final ConcurrentHashMap<String, Window> queues = new ConcurrentHashMap<>();

    /** A registration; {@link #close()} removes it (calls already taken still complete). */
    public interface Registration extends AutoCloseable {
        @Override
        void close();
    }

    /**
     * Makes {@code queue} callable in-process. A queue has one handler at a time: registering a queue that is
     * registered replaces the old handler for new calls.
     */
    public Registration register(String queue, int maxConcurrent,
                                 Function<String, CompletableFuture<String>> handler) {
        Objects.requireNonNull(queue, "queue");
        Objects.requireNonNull(handler, "handler");
        if (maxConcurrent < 1) {
            throw new IllegalArgumentException("maxConcurrent must be at least 1: " + maxConcurrent);
        }
        Window w = new Window(queue, maxConcurrent, handler);
        queues.put(queue, w);
        return () -> queues.remove(queue, w);
    }

    /** The queues registered now, sorted. */
    public Set<String> queues() {
        return new TreeSet<>(queues.keySet());
    }

    /**
     * Hands {@code body} to {@code queue}'s handler; empty when the queue is not served in this JVM. The future
     * completes with the reply text, or exceptionally as described on the class.
     */
    public Optional<CompletableFuture<String>> call(String queue, String body, Duration timeout) {
        Window w = queues.get(queue);
        if (w == null) {
            return Optional.empty();
        }
        CompletableFuture<String> reply = new CompletableFuture<>();
        w.submit(new Pending(body, reply));
        return Optional.of(reply.orTimeout(Math.max(1, timeout.toMillis()), java.util.concurrent.TimeUnit.MILLISECONDS)
                .exceptionallyCompose(t -> CompletableFuture.failedFuture(t instanceof TimeoutException
                        ? new SwitchException(SwitchException.Kind.TIMEOUT, queue,
                                "no reply from " + queue + " within " + timeout.toMillis() + " ms")
                        : t)));
    }

    private record Pending(String body, CompletableFuture<String> reply) {
    }

    /** One queue's handler and its window of running requests. */
    private static final class Window {
        private final String queue;
        private final int maxConcurrent;
        private final Function<String, CompletableFuture<String>> handler;
        // guarded by 'this'
        private final ArrayDeque<Pending> waiting = new ArrayDeque<>();
        private int running;

        Window(String queue, int maxConcurrent, Function<String, CompletableFuture<String>> handler) {
            this.queue = queue;
            this.maxConcurrent = maxConcurrent;
            this.handler = handler;
        }

        void submit(Pending p) {
            synchronized (this) {
                if (running >= maxConcurrent) {
                    waiting.addLast(p);
                    return;
                }
                running++;
            }
            run(p);
        }

        private void run(Pending p) {
            while (p != null) {
                if (p.reply().isDone()) { // timed out while it waited: nobody wants its answer
                    p = next();
                    continue;
                }
                CompletableFuture<String> answer;
                try {
                    answer = Objects.requireNonNull(handler.apply(p.body()), "the handler of " + queue
                            + " returned no future");
                } catch (RuntimeException e) {
                    answer = CompletableFuture.failedFuture(e);
                }
                if (!answer.isDone()) {
                    Pending mine = p;
                    answer.whenComplete((r, e) -> {
                        complete(mine, r, e);
                        Pending n = next();
                        if (n != null) {
                            run(n);
                        }
                    });
                    return;
                }
                // answered synchronously: take the next one here rather than recursing
                try {
                    complete(p, answer.join(), null); // done: join does not wait
                } catch (RuntimeException e) {
                    complete(p, null, e);
                }
                p = next();
            }
        }

        private static void complete(Pending p, String reply, Throwable failure) {
            if (failure != null) {
                p.reply().completeExceptionally(failure instanceof java.util.concurrent.CompletionException c
                        && c.getCause() != null ? c.getCause() : failure);
            } else {
                p.reply().complete(reply);
            }
        }

        /** The next waiting request, counted as running; null (and one fewer running) when none waits. */
        private synchronized Pending next() {
            Pending n = waiting.pollFirst();
            if (n == null) {
                running--;
            }
            return n;
        }
    }
}
