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

    /** The 1, 5 and 15 minute load averages, for a report ("?" where /proc has none). */
    public static String loadAverage() {
        try {
            String[] f = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/loadavg")).split(" ");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (java.io.IOException | RuntimeException e) {
            return "?";
        }
    }

    /**
     * "met" or "missed": whether a ratio printed with two decimals ({@code ratio}, as the table shows it) is at
     * most {@code target}. The rounded figure is compared so that the verdict agrees with the figure beside it.
     */
    public static String atMost(double ratio, double target) {
        return verdict(Math.round(ratio * 100) / 100.0 <= target);
    }

    /** "met" or "missed": whether a ratio printed with two decimals is at least {@code target} (see atMost). */
    public static String atLeast(double ratio, double target) {
        return verdict(Math.round(ratio * 100) / 100.0 >= target);
    }

    /** The word a report prints beside a target. */
    public static String verdict(boolean met) {
        return met ? "met" : "missed";
    }

    /** The median of {@code xs} (the upper one of an even count). */
    public static double median(double[] xs) {
        double[] s = xs.clone();
        java.util.Arrays.sort(s);
        return s[s.length / 2];
    }

    /**
     * Writes a benchmark image of {@code size} bytes: one random 1 MiB run every {@code every} MiB (1 = fully
     * written), the rest a hole; the same bytes every time (a fixed seed), flushed to disk.
     */
    public static void makeImage(java.nio.file.Path file, long size, int every) throws java.io.IOException {
        int mib = 1 << 20;
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(file.toFile(), "rw");
             java.nio.channels.FileChannel ch = f.getChannel()) {
            f.setLength(size);
            java.util.SplittableRandom rnd = new java.util.SplittableRandom(42);
            byte[] chunk = new byte[mib];
            for (long off = 0; off < size; off += (long) every * mib) {
                rnd.nextBytes(chunk);
                java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(chunk);
                while (b.hasRemaining()) {
                    ch.write(b, off + b.position());
                }
            }
            ch.force(true);
        }
    }

    /**
     * Waits up to a minute for a server a harness started (qemu-nbd, qemu-storage-daemon) to write its pid file,
     * which it does once it serves; fails with its log when it exits first or takes longer (it is then killed).
     */
    public static void awaitPidFile(Process server, java.nio.file.Path pidFile, java.nio.file.Path log, String what)
            throws java.io.IOException, InterruptedException {
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(60);
        while (!(java.nio.file.Files.exists(pidFile) && java.nio.file.Files.size(pidFile) > 0)) {
            if (!server.isAlive() || System.nanoTime() > deadline) {
                server.destroyForcibly();
                throw new java.io.IOException(what + " did not start: " + java.nio.file.Files.readString(log));
            }
            Thread.sleep(5);
        }
    }

    /** Stops a helper process a harness started: SIGTERM, up to a minute to exit, then SIGKILL. */
    public static void stop(Process process) throws InterruptedException {
        process.destroy();
        if (!process.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor();
        }
    }

    /** Deletes {@code dir} and everything under it (a benchmark's scratch directory), deepest first. */
    public static void deleteTree(java.nio.file.Path dir) throws java.io.IOException {
        try (java.util.stream.Stream<java.nio.file.Path> s = java.nio.file.Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
