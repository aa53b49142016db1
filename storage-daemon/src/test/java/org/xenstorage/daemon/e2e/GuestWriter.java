package org.xenstorage.daemon.e2e;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.xenstorage.testing.DebianTools;
import org.xenstorage.testing.DebianTools.Tool;
import org.xenstorage.testing.Soon;

/**
 * A guest writing to its disk: one long-lived {@code qemu-io} process (qemu-utils) connected to an NBD export,
 * fed {@code write -P <byte> <offset> 64k} commands on its stdin at random 64 KiB-aligned offsets, one at a time
 * (the next is sent when qemu-io reported the last one written, so a stopped writer leaves nothing in flight).
 * Reusable by any test that needs writes during a migration.
 */
final class GuestWriter implements AutoCloseable {
    static final int BLOCK = 64 * 1024;

    private final Process process;
    private final Thread thread;
    private final AtomicInteger writes = new AtomicInteger();
    private final AtomicReference<String> failure = new AtomicReference<>();
    private volatile boolean stopping;

    private GuestWriter(Process process, long size, long seed) {
        this.process = process;
        this.thread = new Thread(() -> run(size, seed), "guest-writer");
        this.thread.setDaemon(true);
    }

    /** Starts writing to the export {@code nbdUri} of {@code size} bytes (a multiple of 64 KiB). */
    static GuestWriter start(String nbdUri, long size, long seed) throws IOException {
        String qemuIo = DebianTools.require(Tool.QEMU_IO).toString();
        Process p = new ProcessBuilder(List.of(qemuIo, "-f", "raw", nbdUri)).redirectErrorStream(true).start();
        GuestWriter w = new GuestWriter(p, size, seed);
        w.thread.start();
        return w;
    }

    private void run(long size, long seed) {
        Random random = new Random(seed);
        long blocks = size / BLOCK;
        try (OutputStream in = process.getOutputStream();
             BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(),
                     StandardCharsets.UTF_8))) {
            while (!stopping) {
                long offset = (long) (random.nextDouble() * blocks) * BLOCK;
                int pattern = 1 + random.nextInt(255);
                in.write(("write -P " + pattern + " " + offset + " " + BLOCK + "\n").getBytes(StandardCharsets.US_ASCII));
                in.flush();
                while (true) {
                    String line = out.readLine();
                    if (line == null) {
                        failure.compareAndSet(null, "qemu-io exited (status " + process.waitFor() + ")");
                        return;
                    }
                    if (line.contains("wrote ")) {
                        writes.incrementAndGet();
                        break;
                    }
                    if (line.contains("failed") || line.contains("rror")) {
                        failure.compareAndSet(null, "qemu-io: " + line);
                        return;
                    }
                }
            }
        } catch (IOException | InterruptedException e) {
            failure.compareAndSet(null, e.toString());
        }
    }

    /** Writes qemu-io has reported done; fails the test if the writer failed. */
    int writes() {
        String f = failure.get();
        if (f != null) {
            throw new AssertionError("the guest writer failed: " + f);
        }
        return writes.get();
    }

    /** Waits until {@code n} more writes than now are done (the guest keeps writing). */
    void awaitMore(int n) throws InterruptedException {
        int target = writes() + n;
        Soon.await(n + " more guest writes", () -> writes() >= target);
    }

    /** Stops after the write in flight; qemu-io quits at the end of its input. Fails if the writer failed. */
    void stop() throws InterruptedException {
        stopping = true;
        thread.join(Soon.millis());
        if (thread.isAlive()) {
            throw new AssertionError("the guest writer did not stop");
        }
        Soon.exitOf(process);
        writes();
    }

    @Override
    public void close() throws InterruptedException {
        stopping = true;
        process.destroyForcibly();
        thread.join(Soon.millis());
    }
}
