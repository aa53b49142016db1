package org.xenstorage.daemon.service;

import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Gives the heap a burst grew back to the host once the daemon is idle again. The unit's serial collector resizes
 * the heap (down to {@code -XX:MaxHeapFreeRatio} free) only at a full collection, and an idle daemon makes none: after
 * a boot storm it would keep the heap the storm needed until the next storm. So, checked every few seconds: when
 * the committed heap has grown by {@link #GROWTH} since the last trim and no collection has run for
 * {@code idleFor} (nothing allocates much: the burst is over), one full collection, which shrinks it. An idle
 * daemon whose heap does not grow is never collected by this.
 */
final class IdleHeapTrim implements Runnable {
    private static final Logger LOG = LoggerFactory.getLogger(IdleHeapTrim.class);
    /** Heap growth that is worth a full collection once idle (about a tenth of the unit's heap). */
    static final long GROWTH = 24L << 20;

    private final LongSupplier collections;
    private final LongSupplier heapCommitted;
    private final LongSupplier nanoTime;
    private final Runnable fullGc;
    private final long idleNanos;
    private long lastCount = -1;
    private long lastCollectionAt;
    private long committedAfterTrim;

    IdleHeapTrim(Duration idleFor, LongSupplier collections, LongSupplier heapCommitted, LongSupplier nanoTime,
                 Runnable fullGc) {
        this.idleNanos = idleFor.toNanos();
        this.collections = collections;
        this.heapCommitted = heapCommitted;
        this.nanoTime = nanoTime;
        this.fullGc = fullGc;
        this.committedAfterTrim = heapCommitted.getAsLong();
    }

    /** This JVM's collectors and heap; the full collection is {@link System#gc()}. */
    static IdleHeapTrim ofThisJvm(Duration idleFor) {
        return new IdleHeapTrim(idleFor, IdleHeapTrim::collectionCount,
                () -> ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getCommitted(), System::nanoTime,
                System::gc);
    }

    private static long collectionCount() {
        long n = 0;
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            n += Math.max(0, gc.getCollectionCount());
        }
        return n;
    }

    /** One check (the daemon's timer runs it every few seconds); true when it collected. */
    boolean check() {
        long now = nanoTime.getAsLong();
        long count = collections.getAsLong();
        if (count != lastCount) {
            lastCount = count;
            lastCollectionAt = now;
            return false;
        }
        long committed = heapCommitted.getAsLong();
        if (now - lastCollectionAt < idleNanos || committed - committedAfterTrim < GROWTH) {
            return false;
        }
        fullGc.run();
        long after = heapCommitted.getAsLong();
        LOG.info("idle after a burst: heap trimmed from {} to {} MiB committed", committed >> 20, after >> 20);
        committedAfterTrim = after;
        lastCount = collections.getAsLong();
        lastCollectionAt = nanoTime.getAsLong();
        return true;
    }

    @Override
    public void run() {
        try {
            check();
        } catch (RuntimeException e) {
            LOG.warn("idle heap trim failed: {}", e.toString());
        }
    }
}
