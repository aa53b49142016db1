package org.xenstorage.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A guest stand-in for live-migration tests and benchmarks: one long-lived {@code qemu-io} (qemu-utils) connected to
 * an NBD export, fed {@code write -P <byte> <offset> <length>} commands on its stdin at a fixed rate, each a block
 * at a random block-aligned offset filled with a random byte, one at a time. Each write's latency (command sent to
 * qemu-io's {@code wrote} line) is recorded. {@link #stop} ends it cleanly: a {@code flush}, then end of input, and
 * qemu-io closes the export (every write is on the server once it has exited). No shell anywhere.
 *
 * <p>qemu-io reads one command per wake-up of its stdin, so commands go one at a time, each after the previous
 * one's answer. A write that fails (the export went away) is counted and ends the writer.
 */
public final class NbdWriter implements AutoCloseable {
    /** What a writer did: writes done, writes failed, and each done write's latency in nanoseconds. */
    public record Stats(int writes, int failures, long[] latencies, double seconds, String failure) {
        /** The {@code q}-quantile latency in milliseconds (0.5 = median); NaN with no writes. */
        public double millis(double q) {
            if (latencies.length == 0) {
                return Double.NaN;
            }
            long[] s = latencies.clone();
            Arrays.sort(s);
            int i = (int) Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
            return s[i] / 1e6;
        }

        /** The latencies of writes {@code from} (inclusive) to {@code to} (exclusive), in the order they were done. */
        public long[] window(int from, int to) {
            return Arrays.copyOfRange(latencies, Math.min(from, latencies.length), Math.min(to, latencies.length));
        }

        /** The {@code q}-quantile of {@code nanos} in milliseconds; NaN when empty. */
        public static double millis(long[] nanos, double q) {
            return new Stats(nanos.length, 0, nanos, 0, null).millis(q);
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%d writes (%d failed) in %.1f s, p50 %.2f ms, p99 %.2f ms%s",
                    writes, failures, seconds, millis(0.5), millis(0.99), failure == null ? "" : ": " + failure);
        }
    }

    private final Process process;
    private final Thread thread;
    private final AtomicBoolean stopping = new AtomicBoolean();
    private final AtomicInteger writes = new AtomicInteger();
    private final List<Long> latencies = new ArrayList<>();
    private final long started = System.nanoTime();
    private volatile int failures;
    private volatile String failure;
    private volatile long ended;

    private NbdWriter(Process process, long size, int block, double rate, long seed) {
        this.process = process;
        this.thread = new Thread(() -> loop(size, block, rate, seed), "nbd-writer");
        this.thread.setDaemon(true);
    }

    /**
     * Starts writing {@code block}-byte blocks into the export at {@code nbdUri} (of {@code size} bytes),
     * {@code rate} writes a second, offsets and fill bytes from {@code seed}.
     */
    public static NbdWriter start(Path qemuIo, String nbdUri, long size, int block, double rate, long seed)
            throws IOException {
        if (size < block || rate <= 0) {
            throw new IllegalArgumentException("size " + size + " < block " + block + " or rate " + rate);
        }
        Process p = new ProcessBuilder(qemuIo.toString(), "-f", "raw", nbdUri).redirectErrorStream(true).start();
        NbdWriter w = new NbdWriter(p, size, block, rate, seed);
        w.thread.start();
        return w;
    }

    private void loop(long size, int block, double rate, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        long period = (long) (1e9 / rate);
        long next = System.nanoTime();
        OutputStream in = process.getOutputStream();
        BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(),
                StandardCharsets.UTF_8));
        try {
            while (!stopping.get()) {
                long wait = next - System.nanoTime();
                if (wait > 0) {
                    LockSupport.parkNanos(wait); // the fixed rate: a guest's pace, not a wait for a condition
                    continue;
                }
                next += period;
                long offset = random.nextLong(size / block) * block;
                int fill = 1 + random.nextInt(255);
                long t0 = System.nanoTime();
                in.write(String.format(Locale.ROOT, "write -P 0x%02x %d %d\n", fill, offset, block)
                        .getBytes(StandardCharsets.US_ASCII));
                in.flush();
                String line = out.readLine();
                long t1 = System.nanoTime();
                if (line == null || !line.contains("wrote ")) {
                    failures++;
                    failure = line == null ? "qemu-io ended" : line.replace("qemu-io> ", "").strip();
                    return;
                }
                out.readLine(); // the write's statistics line
                synchronized (latencies) {
                    latencies.add(t1 - t0);
                }
                writes.incrementAndGet();
            }
        } catch (IOException e) {
            failures++;
            failure = e.toString();
        } finally {
            ended = System.nanoTime();
        }
    }

    /** Writes done so far. */
    public int writes() {
        return writes.get();
    }

    /** True while it writes (false once stopped or failed). */
    public boolean running() {
        return thread.isAlive();
    }

    /** The failure that ended it, if one did. */
    public String failure() {
        return failure;
    }

    /**
     * Stops writing, flushes, ends qemu-io's input and waits for it to exit (so every write is on the export's
     * server); returns what it did.
     */
    public Stats stop() throws InterruptedException {
        stopping.set(true);
        thread.join(Soon.millis());
        try (OutputStream in = process.getOutputStream()) {
            in.write("flush\n".getBytes(StandardCharsets.US_ASCII));
        } catch (IOException e) {
            // qemu-io already ended (its export went away): nothing left to flush
        }
        if (!process.waitFor(Soon.seconds(), TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor();
            failure = failure == null ? "qemu-io did not exit after its input ended" : failure;
        }
        long[] l;
        synchronized (latencies) {
            l = latencies.stream().mapToLong(Long::longValue).toArray();
        }
        long end = ended == 0 ? System.nanoTime() : ended;
        return new Stats(writes.get(), failures, l, (end - started) / 1e9, failure);
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            stop();
        }
    }
}
