package org.xenstorage.daemon.routing;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.daemon.registry.SrRegistry;
import org.xenstorage.messageswitch.client.SwitchException;
import org.xenstorage.threads.EventLoopGuard;

/**
 * Which backend types are alive, discovered as xapi does: the live queues named {@code <prefix>.<type>}.
 *
 * <p>Staleness rule: the list is refreshed in the background every {@code refreshEvery}; a lookup of a type
 * that is not in the last list, or made when the list is older than three intervals, starts a refresh and
 * answers when it completes (at most one listing in flight, and at most one attempt per 500 ms, so a switch
 * that does not answer cannot slow every call). {@link #liveness} never blocks: the mux asks it on the
 * switch client's event loop. A refresh that finds a queue gone fails the calls still waiting on it at once
 * (with {@code NO_SUCH_QUEUE}) instead of leaving them to their timeout, so a dead backend fails fast.
 */
public final class BackendDirectory {
    private static final Logger LOG = LoggerFactory.getLogger(BackendDirectory.class);
    static final long MIN_GAP_NANOS = TimeUnit.MILLISECONDS.toNanos(500);
    /** How long a listing may take before the last known list is used. */
    private static final Duration LIST_TIMEOUT = Duration.ofSeconds(3);

    private final SwitchLink link;
    private final String prefix;
    private final long refreshEveryNanos;
    private final long minGapNanos;
    private volatile Set<String> live = Set.of();
    private volatile long refreshedAt = Long.MIN_VALUE / 2;
    private volatile long attemptedAt = Long.MIN_VALUE / 2;
    private final Set<String> everSeen = ConcurrentHashMap.newKeySet();
    private final Map<String, Set<CompletableFuture<?>>> inFlight = new ConcurrentHashMap<>();
    private final AtomicReference<CompletableFuture<Set<String>>> listing = new AtomicReference<>();

    public BackendDirectory(SwitchLink link, String queuePrefix, Duration refreshEvery) {
        this(link, queuePrefix, refreshEvery, MIN_GAP_NANOS);
    }

    /** As the public constructor, with the least time between two lookup-driven listings (tests: 0). */
    BackendDirectory(SwitchLink link, String queuePrefix, Duration refreshEvery, long minGapNanos) {
        this.link = link;
        this.prefix = queuePrefix;
        this.refreshEveryNanos = refreshEvery.toNanos();
        this.minGapNanos = minGapNanos;
    }

    public String queueOf(String type) {
        return prefix + "." + type;
    }

    /** The live backend types (refreshing first if the list is stale); may block, so not on an event loop. */
    public Set<String> types() {
        if (System.nanoTime() - refreshedAt > refreshEveryNanos) {
            return await(refreshAsync(false), "BackendDirectory.types");
        }
        return live;
    }

    /** The live backend types as last listed, without refreshing: never blocks. */
    public Set<String> typesNow() {
        return live;
    }

    /**
     * Whether {@code type}'s queue is served; a miss (or a list gone stale) refreshes the list once before
     * answering. Never blocks: the answer completes when the listing does.
     */
    public CompletableFuture<Boolean> liveness(String type) {
        // the background refresh keeps the list younger than ~1 interval; 3 intervals means it is stuck
        if (live.contains(type) && System.nanoTime() - refreshedAt <= 3 * refreshEveryNanos) {
            return CompletableFuture.completedFuture(Boolean.TRUE);
        }
        return refreshAsync(false).thenApply(types -> types.contains(type));
    }

    /** {@link #liveness}, waited for: may block, so not on an event loop. */
    public boolean isLive(String type) {
        return await(liveness(type), "BackendDirectory.isLive");
    }

    /** Every type seen alive since start, with whether it is alive now (for diagnostics). */
    public Map<String, Boolean> backends() {
        Set<String> now = live;
        Map<String, Boolean> out = new java.util.TreeMap<>();
        everSeen.forEach(t -> out.put(t, now.contains(t)));
        return out;
    }

    /** Reads the live queue list from the switch now and waits for it; on failure the last list stays. */
    public void refresh() {
        await(refreshAsync(true), "BackendDirectory.refresh");
    }

    private <T> T await(CompletableFuture<T> f, String what) {
        EventLoopGuard.mayBlock(what);
        try {
            return f.get(LIST_TIMEOUT.toMillis() + 1000, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while listing backend queues", e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("cannot list backend queues: " + e, e); // refreshAsync never fails
        }
    }

    /**
     * Lists the live queues unless a listing is in flight (its answer is shared) or the last attempt is too
     * recent (the last list is the answer). Completes with the live types, the last known ones when the switch
     * does not answer within {@link #LIST_TIMEOUT}; never completes exceptionally.
     *
     * @param background the periodic refresh, which may list more often than lookups may
     */
    CompletableFuture<Set<String>> refreshAsync(boolean background) {
        CompletableFuture<Set<String>> running = listing.get();
        if (running != null) {
            return running;
        }
        long gap = background ? minGapNanos / 10 : minGapNanos;
        if (System.nanoTime() - attemptedAt < gap) {
            return CompletableFuture.completedFuture(live);
        }
        CompletableFuture<Set<String>> mine = new CompletableFuture<>();
        if (!listing.compareAndSet(null, mine)) {
            running = listing.get();
            return running != null ? running : CompletableFuture.completedFuture(live);
        }
        attemptedAt = System.nanoTime();
        link.liveQueues(prefix + ".").orTimeout(LIST_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
                .whenComplete((queues, failure) -> {
                    try {
                        if (failure == null) {
                            apply(queues);
                        } else {
                            LOG.warn("cannot list the backend queues on the switch: {}", failure.toString());
                        }
                    } catch (RuntimeException e) {
                        LOG.warn("cannot use the backend queue list: {}", e.toString());
                    } finally {
                        listing.set(null);
                        mine.complete(live);
                    }
                });
        return mine;
    }

    private synchronized void apply(List<String> queues) {
        Set<String> types = new TreeSet<>();
        for (String q : queues) {
            if (q.startsWith(prefix + ".")) {
                String type = q.substring(prefix.length() + 1);
                if (SrRegistry.validType(type)) {
                    types.add(type);
                }
            }
        }
        Set<String> before = live;
        live = Collections.unmodifiableSet(types);
        refreshedAt = System.nanoTime();
        everSeen.addAll(types);
        if (!types.equals(before)) {
            LOG.info("live backend types: {}", types);
        }
        for (String gone : before) {
            if (!types.contains(gone)) {
                failInFlight(queueOf(gone));
            }
        }
    }

    /** Remembers {@code call} as waiting on {@code queue}, until it completes. */
    public <T> CompletableFuture<T> track(String queue, CompletableFuture<T> call) {
        Set<CompletableFuture<?>> set = inFlight.computeIfAbsent(queue, q -> ConcurrentHashMap.newKeySet());
        set.add(call);
        call.whenComplete((v, t) -> set.remove(call));
        return call;
    }

    private void failInFlight(String queue) {
        Set<CompletableFuture<?>> calls = inFlight.get(queue);
        if (calls == null || calls.isEmpty()) {
            return;
        }
        List<CompletableFuture<?>> victims = new ArrayList<>(calls);
        LOG.warn("backend queue {} is no longer served: failing {} call(s) waiting on it", queue, victims.size());
        for (CompletableFuture<?> f : victims) {
            f.completeExceptionally(new SwitchException(SwitchException.Kind.NO_SUCH_QUEUE, queue,
                    "queue " + queue + " is no longer served"));
        }
    }
}
