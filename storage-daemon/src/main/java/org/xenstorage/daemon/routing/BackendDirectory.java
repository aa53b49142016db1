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
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.daemon.registry.SrRegistry;
import org.xenstorage.messageswitch.client.SwitchException;

/**
 * Which backend types are alive, discovered as xapi does: the live queues named {@code <prefix>.<type>}.
 *
 * <p>Staleness rule: the list is refreshed in the background every {@code refreshEvery}; a lookup of a type
 * that is not in the last list, or made when the list is older than three intervals, refreshes it first
 * (at most one attempt per 500 ms, so a switch that does not answer cannot slow every call). A refresh that finds a queue gone fails the calls still
 * waiting on it at once (with {@code NO_SUCH_QUEUE}) instead of leaving them to their timeout, so a dead
 * backend fails fast.
 */
public final class BackendDirectory {
    private static final Logger LOG = LoggerFactory.getLogger(BackendDirectory.class);
    static final long MIN_GAP_NANOS = TimeUnit.MILLISECONDS.toNanos(500);
    /** How long a synchronous refresh may take before the last known list is used. */
    private static final Duration LIST_TIMEOUT = Duration.ofSeconds(3);

    private final SwitchLink link;
    private final String prefix;
    private final long refreshEveryNanos;
    private volatile Set<String> live = Set.of();
    private volatile long refreshedAt = Long.MIN_VALUE / 2;
    private volatile long attemptedAt = Long.MIN_VALUE / 2;
    private final Set<String> everSeen = ConcurrentHashMap.newKeySet();
    private final Map<String, Set<CompletableFuture<?>>> inFlight = new ConcurrentHashMap<>();
    private final Object refreshLock = new Object();

    public BackendDirectory(SwitchLink link, String queuePrefix, Duration refreshEvery) {
        this.link = link;
        this.prefix = queuePrefix;
        this.refreshEveryNanos = refreshEvery.toNanos();
    }

    public String queueOf(String type) {
        return prefix + "." + type;
    }

    /** The live backend types (refreshing first if the list is stale). */
    public Set<String> types() {
        if (System.nanoTime() - refreshedAt > refreshEveryNanos && System.nanoTime() - attemptedAt > MIN_GAP_NANOS) {
            refresh();
        }
        return live;
    }

    /** Whether {@code type}'s queue is served; a miss refreshes the list once before answering. */
    public boolean isLive(String type) {
        long now = System.nanoTime();
        // the background refresh keeps the list younger than ~1 interval; 3 intervals means it is stuck
        if (live.contains(type) && now - refreshedAt <= 3 * refreshEveryNanos) {
            return true;
        }
        if (now - attemptedAt > MIN_GAP_NANOS) {
            refresh();
        }
        return live.contains(type);
    }

    /** Every type seen alive since start, with whether it is alive now (for diagnostics). */
    public Map<String, Boolean> backends() {
        Set<String> now = live;
        Map<String, Boolean> out = new java.util.TreeMap<>();
        everSeen.forEach(t -> out.put(t, now.contains(t)));
        return out;
    }

    /** Reads the live queue list from the switch now; on failure the last list stays. */
    public void refresh() {
        synchronized (refreshLock) {
            if (System.nanoTime() - attemptedAt < MIN_GAP_NANOS / 10) {
                return; // another caller just did it
            }
            attemptedAt = System.nanoTime();
            List<String> queues;
            try {
                queues = link.liveQueues(prefix + ".").get(LIST_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (Exception e) {
                LOG.warn("cannot list the backend queues on the switch: {}", e.toString());
                return;
            }
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
