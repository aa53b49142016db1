package org.xenstorage.daemon.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The trim's decision, on a clock, collection count and heap size of the test's (pure logic). */
class IdleHeapTrimTest {
    private static final long MIB = 1 << 20;
    private final AtomicLong now = new AtomicLong();
    private final AtomicLong collections = new AtomicLong();
    private final AtomicLong committed = new AtomicLong(32 * MIB);
    private final AtomicInteger fullGcs = new AtomicInteger();
    private final IdleHeapTrim trim = new IdleHeapTrim(Duration.ofSeconds(5), collections::get, committed::get,
            now::get, () -> {
                fullGcs.incrementAndGet();
                collections.incrementAndGet();
                committed.set(40 * MIB); // what the collector shrank the heap to
            });

    private boolean at(long seconds) {
        now.set(seconds * 1_000_000_000L);
        return trim.check();
    }

    @Test
    void aBurstThatGrewTheHeapIsTrimmedOnceTheCollectionsStop() {
        at(0);
        // the burst: collections every check, the heap grows
        for (int s = 1; s <= 10; s++) {
            collections.addAndGet(3);
            committed.addAndGet(10 * MIB);
            assertFalse(at(s), "no trim while collections run (second " + s + ")");
        }
        assertFalse(at(14), "4 s without a collection is not idle yet");
        assertTrue(at(15), "5 s without one after the heap grew by 100 MiB: one full collection");
        assertEquals(1, fullGcs.get());
        assertEquals(40 * MIB, committed.get());
        for (int s = 16; s < 100; s += 3) {
            assertFalse(at(s), "idle, heap as the trim left it: nothing more (second " + s + ")");
        }
        assertEquals(1, fullGcs.get());
    }

    @Test
    void anIdleDaemonWhoseHeapDoesNotGrowIsNeverCollected() {
        for (int s = 0; s < 600; s += 3) {
            if (s % 60 == 0) {
                collections.incrementAndGet(); // a long-poll's garbage now and then
                committed.addAndGet(MIB);
            }
            assertFalse(at(s));
        }
        assertEquals(0, fullGcs.get());
    }

    @Test
    void growthBelowTheThresholdIsLeftAlone() {
        at(0);
        collections.incrementAndGet();
        committed.addAndGet(IdleHeapTrim.GROWTH - MIB);
        at(1);
        assertFalse(at(20));
        committed.addAndGet(2 * MIB);
        assertTrue(at(21), "past the threshold, still idle: trimmed");
    }
}
