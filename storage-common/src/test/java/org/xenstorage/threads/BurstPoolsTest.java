package org.xenstorage.threads;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadPoolExecutor;
import org.junit.jupiter.api.Test;
import org.xenstorage.testing.Soon;

class BurstPoolsTest {
    private static final Duration SHORT = Duration.ofMillis(200);

    /** Runs {@code n} tasks that all hold a thread at once, then lets them go; returns their futures. */
    private static List<Future<?>> burst(ThreadPoolExecutor pool, int n, CountDownLatch release) {
        List<Future<?>> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(pool.submit(() -> {
                release.await();
                return null;
            }));
        }
        return out;
    }

    @Test
    void boundedPoolQueuesBeyondItsThreadsAndItsThreadsExitWhenIdle() throws Exception {
        ThreadPoolExecutor pool = BurstPools.bounded(4, SHORT, BurstPools.daemonThreads("burst-test"));
        try {
            CountDownLatch release = new CountDownLatch(1);
            List<Future<?>> tasks = burst(pool, 10, release);
            Soon.await("4 threads busy, 6 tasks queued", () -> pool.getActiveCount() == 4 && pool.getQueue().size() == 6);
            assertEquals(4, pool.getPoolSize(), "never more threads than the bound");
            release.countDown();
            for (Future<?> f : tasks) {
                Soon.get(f);
            }
            // the core threads too: a fixed pool would keep all 4 for ever
            Soon.await("the burst's threads exited", () -> pool.getPoolSize() == 0);
            // and the pool still serves after its threads are gone
            CountDownLatch again = new CountDownLatch(0);
            Soon.get(burst(pool, 1, again).get(0));
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void unboundedPoolRunsEveryTaskAtOnceAndItsThreadsExitWhenIdle() throws Exception {
        ThreadPoolExecutor pool = BurstPools.unbounded(SHORT, BurstPools.daemonThreads("burst-test"));
        try {
            CountDownLatch release = new CountDownLatch(1);
            List<Future<?>> tasks = burst(pool, 12, release);
            Soon.await("12 tasks running at once", () -> pool.getActiveCount() == 12);
            assertTrue(pool.getQueue().isEmpty());
            release.countDown();
            for (Future<?> f : tasks) {
                Soon.get(f);
            }
            Soon.await("the burst's threads exited", () -> pool.getPoolSize() == 0);
        } finally {
            pool.shutdownNow();
        }
    }
}
