package org.xenstorage.exec;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The project's one way to run a child process (SM drivers and SMAPIv3 scripts alike): argv
 * exec with no shell, an explicit environment, stdin fed and closed, stdout and stderr drained
 * concurrently with caps, and a timeout that kills the whole process tree so a hung driver
 * cannot pin a datapath forever.
 *
 * <p>{@link #run} blocks the calling thread; call it from an executor named for what it runs,
 * never from an event loop.
 */
public final class ChildProcessRunner implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ChildProcessRunner.class);
    private static final AtomicInteger THREADS = new AtomicInteger();

    private final ExecutorService pipes = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "child-process-pipe-" + THREADS.incrementAndGet());
        t.setDaemon(true);
        return t;
    });
    private final ScheduledExecutorService killer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "child-process-timeout");
        t.setDaemon(true);
        return t;
    });

    /**
     * Runs the request to completion.
     *
     * @throws IOException when the program cannot be started at all (missing, not executable, ...)
     */
    public ExecResult run(ExecRequest request) throws IOException {
        long start = System.nanoTime();
        ProcessBuilder pb = new ProcessBuilder(request.argv());
        pb.environment().clear();
        pb.environment().putAll(request.environment());
        if (request.workingDir() != null) {
            pb.directory(request.workingDir().toFile());
        }
        Process process = pb.start();
        AtomicReference<ExecResult.Termination> killedFor = new AtomicReference<>();
        ScheduledFuture<?> timer = killer.schedule(() -> {
            if (killedFor.compareAndSet(null, ExecResult.Termination.TIMED_OUT)) {
                LOG.warn("{} ran past {} ms: killing its process tree", request.argv().get(0), request.timeout().toMillis());
                ProcessTree.kill(process);
            }
        }, request.timeout().toNanos(), TimeUnit.NANOSECONDS);
        try {
            CompletableFuture<Void> feeder = CompletableFuture.runAsync(() -> feed(process, request.stdin()), pipes);
            CompletableFuture<byte[]> stderr = CompletableFuture.supplyAsync(
                    () -> drainDiscardingExcess(process.getErrorStream(), request.maxStderrBytes()), pipes);
            byte[] stdout = readCapped(process, request.maxStdoutBytes(), killedFor);
            int status = waitUninterruptibly(process);
            feeder.join();
            byte[] err = stderr.join();
            ExecResult.Termination termination = killedFor.get() == null ? ExecResult.Termination.EXITED : killedFor.get();
            return new ExecResult(termination, status, stdout, err, Duration.ofNanos(System.nanoTime() - start));
        } finally {
            timer.cancel(false);
            if (process.isAlive()) {
                ProcessTree.kill(process);
            }
        }
    }

    /** Runs the request on the given executor. */
    public CompletableFuture<ExecResult> runAsync(ExecRequest request, java.util.concurrent.Executor executor) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return run(request);
            } catch (IOException e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        }, executor);
    }

    private static void feed(Process process, byte[] input) {
        try (OutputStream in = process.getOutputStream()) {
            if (input.length > 0) {
                in.write(input);
            }
        } catch (IOException e) {
            // The child closed its stdin early (exited, or does not read it): not our failure.
            LOG.debug("child did not take all of its stdin: {}", e.toString());
        }
    }

    private static byte[] readCapped(Process process, int cap, AtomicReference<ExecResult.Termination> killedFor)
            throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream(Math.min(cap, 8192));
        byte[] buf = new byte[8192];
        try (InputStream in = process.getInputStream()) {
            int n;
            while ((n = in.read(buf)) >= 0) {
                int room = cap - out.size();
                if (n > room) {
                    out.write(buf, 0, room);
                    if (killedFor.compareAndSet(null, ExecResult.Termination.OUTPUT_LIMIT)) {
                        ProcessTree.kill(process);
                    }
                    break;
                }
                out.write(buf, 0, n);
            }
        }
        return out.toByteArray();
    }

    private static byte[] drainDiscardingExcess(InputStream in, int cap) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(Math.min(cap, 8192) + 1);
        byte[] buf = new byte[8192];
        try (in) {
            int n;
            while ((n = in.read(buf)) >= 0) {
                int room = cap - out.size();
                if (room > 0) {
                    out.write(buf, 0, Math.min(room, n));
                }
            }
        } catch (IOException e) {
            LOG.debug("stderr pipe closed: {}", e.toString());
        }
        return out.toByteArray();
    }

    private static int waitUninterruptibly(Process process) {
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return process.waitFor();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public void close() {
        killer.shutdownNow();
        pipes.shutdownNow();
    }
}
