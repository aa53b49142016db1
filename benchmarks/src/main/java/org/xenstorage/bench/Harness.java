package org.xenstorage.bench;

import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;

/**
 * A small measurement loop for the benchmark harnesses: warm up, then run the operation for a fixed
 * time several times and report the median rate. Each figure is meant to be printed as a ratio against
 * a baseline measured in the same run, never compared with numbers from another machine.
 */
public final class Harness {
    private Harness() {
    }

    /** Operations per second of {@code op} (median of {@code rounds} runs of {@code each}), after a warm-up. */
    public static double opsPerSecond(Runnable op, Duration warmup, Duration each, int rounds) {
        runFor(op, warmup);
        double[] rates = new double[rounds];
        for (int i = 0; i < rounds; i++) {
            rates[i] = runFor(op, each);
        }
        Arrays.sort(rates);
        return rates[rounds / 2];
    }

    private static double runFor(Runnable op, Duration d) {
        long end = System.nanoTime() + d.toNanos();
        long start = System.nanoTime();
        long n = 0;
        long now;
        do {
            for (int i = 0; i < 64; i++) {
                op.run();
            }
            n += 64;
            now = System.nanoTime();
        } while (now < end);
        return n / ((now - start) / 1e9);
    }

    /** A one-line description of the machine, for the report header. */
    public static String machine() {
        return String.format(Locale.ROOT, "%s %s, %d cores, Java %s (%s), max heap %d MiB",
                System.getProperty("os.name"), System.getProperty("os.arch"),
                Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"),
                System.getProperty("java.vm.name"), Runtime.getRuntime().maxMemory() >> 20);
    }

    /** Keeps a value alive so the JIT cannot drop the work that produced it. */
    public static void consume(Object o) {
        if (o != null && o.hashCode() == 0x7fffffff && System.nanoTime() == 42) {
            System.out.print("");
        }
    }
}
