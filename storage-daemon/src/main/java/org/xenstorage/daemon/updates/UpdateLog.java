package org.xenstorage.daemon.updates;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.xenstorage.idl.types.DynamicId;

/**
 * The update log behind {@code UPDATES.get} (upstream {@code Updates}): for each key only its latest
 * change counts, every mutation bumps a counter and wakes the waiters. Waiting is future-based: a blocked
 * poller is a {@link CompletableFuture} in a list plus (with a timeout) one entry in a shared scheduler,
 * so thousands of idle pollers hold no thread.
 */
public final class UpdateLog {

    /** A barrier: the keys (restricted to a predicate) as they stood when it was injected. */
    public record Barrier(int id, Map<DynamicId, Long> snapshot, long eventId) {
        public Barrier {
            snapshot = Map.copyOf(snapshot);
        }
    }

    /**
     * What changed after a token.
     *
     * @param updates  keys whose latest change is newer than the token, oldest change first
     * @param barriers barriers newer than the token, oldest first, each restricted to newer keys
     * @param last     the token to pass next time
     */
    public record Changes(List<DynamicId> updates, List<Barrier> barriers, long last) {
        public boolean isEmpty() {
            return updates.isEmpty() && barriers.isEmpty();
        }
    }

    private record Waiter(long from, CompletableFuture<Changes> future) {
    }

    private final Object lock = new Object();
    private final Map<DynamicId, Long> latest = new HashMap<>();
    private final LinkedList<Barrier> barriers = new LinkedList<>(); // newest first
    private final List<Waiter> waiters = new ArrayList<>();
    private final ScheduledExecutorService scheduler;
    private long next;

    /**
     * @param firstId   the counter given to the first change; the daemon starts it from the wall clock so a
     *                  token from a previous run is never ahead of this run (upstream restarts at 1)
     * @param scheduler runs the long-poll timeouts (one-shot, cancelled when the poll returns early)
     */
    public UpdateLog(long firstId, ScheduledExecutorService scheduler) {
        if (firstId < 1) {
            throw new IllegalArgumentException("firstId must be positive");
        }
        this.next = firstId;
        this.scheduler = scheduler;
    }

    /** Records a change of {@code key}. */
    public void add(DynamicId key) {
        mutate(() -> latest.put(key, next));
    }

    /** Forgets {@code key} (no event is produced for the removal). */
    public void remove(DynamicId key) {
        mutate(() -> latest.remove(key));
    }

    /** Keeps only the keys matching {@code keep}. */
    public void filter(Predicate<DynamicId> keep) {
        mutate(() -> latest.keySet().removeIf(keep.negate()));
    }

    /** Injects a barrier holding the current keys that match {@code pred}. */
    public void injectBarrier(int id, Predicate<DynamicId> pred) {
        mutate(() -> {
            Map<DynamicId, Long> snap = new HashMap<>();
            latest.forEach((k, v) -> {
                if (pred.test(k)) {
                    snap.put(k, v);
                }
            });
            barriers.addFirst(new Barrier(id, snap, next));
        });
    }

    /** Drops the barriers with this id. */
    public void removeBarrier(int id) {
        mutate(() -> barriers.removeIf(b -> b.id() == id));
    }

    /** The newest counter handed out (one less than the next). */
    public long lastId() {
        synchronized (lock) {
            return next - 1;
        }
    }

    /** Pollers currently waiting (for diagnostics and tests). */
    public int waiting() {
        synchronized (lock) {
            return waiters.size();
        }
    }

    /** The changes after {@code from}, without waiting. */
    public Changes get(long from) {
        synchronized (lock) {
            return changesLocked(from);
        }
    }

    /**
     * The changes after {@code from}, completing as soon as there is at least one, or when {@code timeout}
     * expires (with whatever there is, possibly nothing). An empty timeout waits until something changes.
     */
    public CompletableFuture<Changes> await(long from, Optional<Duration> timeout) {
        CompletableFuture<Changes> future = new CompletableFuture<>();
        synchronized (lock) {
            Changes now = changesLocked(from);
            if (!now.isEmpty() || timeout.isPresent() && timeout.get().compareTo(Duration.ZERO) <= 0) {
                future.complete(now);
                return future;
            }
            waiters.add(new Waiter(from, future));
        }
        if (timeout.isPresent()) {
            ScheduledFuture<?> timer = scheduler.schedule(() -> expire(from, future),
                    timeout.get().toNanos(), TimeUnit.NANOSECONDS);
            future.whenComplete((c, t) -> timer.cancel(false));
        }
        // a caller that gives up (cancel) must not stay in the list
        future.whenComplete((c, t) -> {
            if (t != null) {
                synchronized (lock) {
                    waiters.removeIf(w -> w.future() == future);
                }
            }
        });
        return future;
    }

    private void expire(long from, CompletableFuture<Changes> future) {
        Changes now;
        synchronized (lock) {
            waiters.removeIf(w -> w.future() == future);
            now = changesLocked(from);
        }
        future.complete(now);
    }

    private void mutate(Runnable change) {
        List<Map.Entry<CompletableFuture<Changes>, Changes>> ready = new ArrayList<>();
        synchronized (lock) {
            change.run();
            next++;
            for (Iterator<Waiter> it = waiters.iterator(); it.hasNext(); ) {
                Waiter w = it.next();
                Changes c = changesLocked(w.from());
                if (!c.isEmpty()) {
                    it.remove();
                    ready.add(Map.entry(w.future(), c));
                }
            }
        }
        // completed outside the lock: completion runs the reply path of each poller
        ready.forEach(e -> e.getKey().complete(e.getValue()));
    }

    private Changes changesLocked(long from) {
        List<Map.Entry<DynamicId, Long>> newer = new ArrayList<>();
        for (Map.Entry<DynamicId, Long> e : latest.entrySet()) {
            if (e.getValue() > from) {
                newer.add(e);
            }
        }
        newer.sort(Map.Entry.comparingByValue(Comparator.naturalOrder()));
        long last = from;
        List<DynamicId> keys = new ArrayList<>(newer.size());
        for (Map.Entry<DynamicId, Long> e : newer) {
            keys.add(e.getKey());
            last = Math.max(last, e.getValue());
        }
        List<Barrier> bs = new ArrayList<>();
        for (Barrier b : barriers) { // newest first; stop at the first one already seen
            if (b.eventId() <= from) {
                break;
            }
            Map<DynamicId, Long> snap = new HashMap<>();
            b.snapshot().forEach((k, v) -> {
                if (v > from) {
                    snap.put(k, v);
                }
            });
            bs.add(0, new Barrier(b.id(), snap, b.eventId()));
            last = Math.max(last, b.eventId());
        }
        return new Changes(List.copyOf(keys), List.copyOf(bs), last);
    }
}
