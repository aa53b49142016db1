package org.xenstorage.threads;

import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Thread pools for a host daemon's bursts (a boot storm attaches hundreds of VDIs at once, then nothing happens for
 * hours): the threads a burst made exit once they have been idle {@link #KEEP_ALIVE}, so the idle daemon does not
 * keep their stacks and malloc caches. {@code Executors.newFixedThreadPool} keeps its threads for ever and
 * {@code newCachedThreadPool} for 60 s.
 */
public final class BurstPools {
    /**
     * How long a pool thread may wait for work before it exits: a burst's threads are gone a few seconds after it,
     * and a new one costs well under a millisecond, against tens of milliseconds for the exec it usually waits on.
     */
    public static final Duration KEEP_ALIVE = Duration.ofSeconds(10);
    private static final ConcurrentMap<String, AtomicInteger> NUMBERS = new ConcurrentHashMap<>();

    private BurstPools() {
    }

    /**
     * As {@code Executors.newCachedThreadPool}: a thread per task running at once, no bound (callers bound the
     * concurrency), idle threads exit after {@code keepAlive}.
     */
    public static ThreadPoolExecutor unbounded(Duration keepAlive, ThreadFactory threads) {
        return new ThreadPoolExecutor(0, Integer.MAX_VALUE, keepAlive.toNanos(), TimeUnit.NANOSECONDS,
                new SynchronousQueue<>(), threads);
    }

    /**
     * As {@code Executors.newFixedThreadPool(max)}: at most {@code max} threads, tasks beyond them queue, but idle
     * threads (core ones too) exit after {@code keepAlive}.
     */
    public static ThreadPoolExecutor bounded(int max, Duration keepAlive, ThreadFactory threads) {
        ThreadPoolExecutor pool = new ThreadPoolExecutor(max, max, keepAlive.toNanos(), TimeUnit.NANOSECONDS,
                new LinkedBlockingQueue<>(), threads);
        pool.allowCoreThreadTimeOut(true);
        return pool;
    }

    /**
     * Daemon threads named {@code name-1}, {@code name-2}, ... (a thread dump reads as the design); the numbers
     * run on across every factory of one name in the process, so no two live threads share a name.
     */
    public static ThreadFactory daemonThreads(String name) {
        AtomicInteger n = NUMBERS.computeIfAbsent(name, k -> new AtomicInteger());
        return r -> {
            Thread t = new Thread(r, name + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
