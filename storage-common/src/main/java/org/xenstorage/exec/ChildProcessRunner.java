package org.xenstorage.exec;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.logging.CallContext;
import org.xenstorage.threads.BurstPools;
import org.xenstorage.threads.EventLoopGuard;

/**
 * The project's one way to run a child process (SM drivers and SMAPIv3 scripts alike): argv
 * exec with no shell, an explicit environment, stdin fed and closed, stdout and stderr drained
 * concurrently with caps, and a timeout that kills the whole process tree so a hung driver
 * cannot pin a datapath forever.
 *
 * <p>{@link #run} blocks the calling thread; call it from an executor named for what it runs,
 * never from an event loop.
 *
 * <p>Every run logs one line when it ends (INFO: its label, how it ended, how long it took, its pid), then its
 * stderr a line each: at INFO when it failed, at DEBUG when it succeeded (the INFO line counts them). They are
 * logged on the calling thread, so they carry the call's {@code queue} and {@code dbg} (MDC).
 */
public final class ChildProcessRunner implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ChildProcessRunner.class);
    /** How often a call past its timeout (and not killed) is logged again. */
    private static final Duration WARN_EVERY = Duration.ofMinutes(5);
    private static final Map<Long, RunningCall> RUNNING = new ConcurrentHashMap<>();
    /** Most stderr lines logged for one run (the whole stderr, up to its cap, is in the result). */
    static final int MAX_LOGGED_STDERR_LINES = 100;
    /** Longest stderr line logged (the rest is cut). */
    static final int MAX_LOGGED_LINE_CHARS = 1000;

    /**
     * One child running now, for diagnostics.
     *
     * @param pid     its process id
     * @param program what runs (argv[0])
     * @param label   which call it serves
     * @param started when it started
     */
    public record RunningCall(long pid, String program, String label, Instant started) {
        /** How long it has been running. */
        public Duration age() {
            return Duration.between(started, Instant.now());
        }
    }

    /** Every child running now in this JVM (all runners), oldest first. */
    public static List<RunningCall> running() {
        List<RunningCall> out = new ArrayList<>(RUNNING.values());
        out.sort(java.util.Comparator.comparing(RunningCall::started));
        return out;
    }

    /** How long after a process's exit its output may take to end before we look for who holds it. */
    private static final Duration LINGER = Duration.ofSeconds(1);
    /** setsid(1): runs the child in a session of its own, exec'ing it in place (same pid), no shell. */
    private static final Path SETSID = java.util.stream.Stream.of("/usr/bin/setsid", "/bin/setsid").map(Path::of)
            .filter(Files::isExecutable).findFirst().orElse(null);

    // two per running child (stdout, stderr): a boot storm's worth exit once idle
    private final ExecutorService pipes = BurstPools.unbounded(BurstPools.KEEP_ALIVE,
            BurstPools.daemonThreads("child-process-pipe"));
    private final ScheduledExecutorService killer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "child-process-timeout");
        t.setDaemon(true);
        return t;
    });

    /**
     * Runs the request to completion: the call ends when the process ends (as upstream's forkexecd returns
     * on exit), even when something it left behind still holds its stdout or stderr open. Such a holder is
     * logged; one in the process's own process group (a helper it forked and forgot) is killed, one that
     * left it (setsid) is only reported, and the output read until then is the result.
     *
     * @throws IOException when the program cannot be started at all (missing, not executable, ...)
     */
    public ExecResult run(ExecRequest request) throws IOException {
        EventLoopGuard.mayBlock("ChildProcessRunner.run " + request.argv().get(0));
        long start = System.nanoTime();
        String program = request.argv().get(0);
        if (Path.of(program).isAbsolute() && !(Files.isRegularFile(Path.of(program)) && Files.isExecutable(Path.of(program)))) {
            throw new IOException("Cannot run program \"" + program + "\": not an executable file");
        }
        // in a session (so a process group) of its own: what it leaves behind can be found and killed as a group
        List<String> argv = new ArrayList<>();
        if (SETSID != null) {
            argv.add(SETSID.toString());
        }
        argv.addAll(request.argv());
        ProcessBuilder pb = new ProcessBuilder(argv);
        pb.environment().clear();
        pb.environment().putAll(request.environment());
        if (request.workingDir() != null) {
            pb.directory(request.workingDir().toFile());
        }
        ExecJournal.fromEnvironment().ifPresent(j -> j.record(request));
        Process process = pb.start();
        // read now, while the process most likely still holds them: which pipes are its stdout and stderr
        PipeHolders.Identity identity = PipeHolders.identify(process.pid());
        AtomicReference<ExecResult.Termination> killedFor = new AtomicReference<>();
        RunningCall running = new RunningCall(process.pid(), program, request.label(), Instant.now());
        RUNNING.put(process.pid(), running);
        ScheduledFuture<?> timer;
        Map<String, String> call = CallContext.capture(); // the timer's warnings belong to the call too
        if (request.killOnTimeout()) {
            timer = killer.schedule(CallContext.wrap(call, () -> {
                if (process.isAlive() && killedFor.compareAndSet(null, ExecResult.Termination.TIMED_OUT)) {
                    LOG.warn("{} ({}) ran past {} ms: killing its process tree", request.label(), program,
                            request.timeout().toMillis());
                    ProcessTree.kill(process.toHandle());
                    killGroup(process.pid());
                }
            }), request.timeout().toNanos(), TimeUnit.NANOSECONDS);
        } else {
            long every = Math.min(request.timeout().toNanos(), WARN_EVERY.toNanos());
            timer = killer.scheduleAtFixedRate(CallContext.wrap(call, () -> {
                if (process.isAlive()) {
                    LOG.warn("{} ({}, pid {}) still running after {} s (past its {} s timeout; not killed: "
                            + "kill-on-timeout is off)", request.label(), program, process.pid(),
                            running.age().toSeconds(), request.timeout().toSeconds());
                }
            }), request.timeout().toNanos(), every, TimeUnit.NANOSECONDS);
        }
        try {
            CompletableFuture.runAsync(() -> feed(process, request.stdin()), pipes);
            CappedBuffer out = new CappedBuffer(request.maxStdoutBytes());
            CappedBuffer err = new CappedBuffer(request.maxStderrBytes());
            CompletableFuture<Void> stdout = CompletableFuture.runAsync(() -> {
                if (out.drain(process.getInputStream(), true)
                        && killedFor.compareAndSet(null, ExecResult.Termination.OUTPUT_LIMIT)) {
                    ProcessTree.kill(process.toHandle());
                }
            }, pipes);
            CompletableFuture<Void> stderr = CompletableFuture.runAsync(
                    () -> err.drain(process.getErrorStream(), false), pipes);
            int status = waitUninterruptibly(process);
            awaitOutput(request, process, identity, CompletableFuture.allOf(stdout, stderr), start);
            byte[] errBytes = err.bytes();
            if (SETSID != null && (status == 126 || status == 127) && killedFor.get() == null) {
                String text = new String(errBytes, java.nio.charset.StandardCharsets.UTF_8);
                if (text.startsWith("setsid: failed to execute ")) {
                    throw new IOException("Cannot run program \"" + program + "\": " + text.strip());
                }
            }
            ExecResult.Termination termination = killedFor.get() == null ? ExecResult.Termination.EXITED : killedFor.get();
            ExecResult result = new ExecResult(termination, status, out.bytes(), errBytes,
                    Duration.ofNanos(System.nanoTime() - start));
            logEnd(request, process.pid(), result);
            return result;
        } finally {
            timer.cancel(false);
            RUNNING.remove(process.pid(), running);
            if (process.isAlive()) {
                ProcessTree.kill(process.toHandle());
            }
        }
    }

    /** The run's one INFO line, then its stderr lines (INFO when it failed, DEBUG otherwise). */
    static void logEnd(ExecRequest request, long pid, ExecResult r) {
        List<String> lines = r.stderrText().lines().filter(l -> !l.isBlank()).toList();
        boolean failed = !r.succeeded();
        if (!LOG.isInfoEnabled()) {
            return;
        }
        String stderr = lines.isEmpty() ? "" : ", " + lines.size() + " stderr line" + (lines.size() == 1 ? "" : "s")
                + (failed || LOG.isDebugEnabled() ? "" : " (log-level DEBUG shows them)");
        String program = request.argv().get(0);
        LOG.info("exec {}: {} in {} ms (pid {}{}){}", CallContext.sanitise(request.label(), 1000), outcome(r),
                r.elapsed().toMillis(), pid, request.label().equals(program) ? ""
                        : ", " + CallContext.sanitise(program, 1000), stderr);
        if (!(failed ? LOG.isInfoEnabled() : LOG.isDebugEnabled())) {
            return;
        }
        int n = 0;
        for (String line : lines) {
            if (n++ == MAX_LOGGED_STDERR_LINES) {
                String more = (lines.size() - MAX_LOGGED_STDERR_LINES) + " more stderr lines not logged";
                if (failed) {
                    LOG.info("stderr: ({})", more);
                } else {
                    LOG.debug("stderr: ({})", more);
                }
                break;
            }
            String clean = CallContext.sanitise(line, MAX_LOGGED_LINE_CHARS);
            if (failed) {
                LOG.info("stderr: {}", clean);
            } else {
                LOG.debug("stderr: {}", clean);
            }
        }
    }

    /** How a run ended, for its log line: {@code exit 0}, {@code exit 1}, {@code killed by signal 9}, ... */
    private static String outcome(ExecResult r) {
        return switch (r.termination()) {
            case TIMED_OUT -> "killed after its timeout";
            case OUTPUT_LIMIT -> "killed: stdout over its limit";
            case EXITED -> r.signal() != 0 ? "died of signal " + r.signal() : "exit " + r.exitStatus();
        };
    }

    /**
     * After the process exited: kills what is left of its process group (helpers it forked and forgot; a
     * process that left the group with setsid is not ours to kill), then waits for its output pipes to end.
     * Output still open after {@link #LINGER} is held by something outside the group: it is reported and not
     * waited for. (Java may also close the pipes itself at the exit, so their end alone proves nothing.)
     */
    private static void awaitOutput(ExecRequest request, Process process, PipeHolders.Identity identity,
                                     CompletableFuture<Void> drained, long start) {
        String program = request.argv().get(0);
        reportLeftovers(program, process.pid(), killGroup(process.pid()));
        if (awaitQuietly(drained, LINGER)) {
            return;
        }
        if (!identity.known()) {
            // it was gone before its pipes could be named: wait as long as its timeout allows
            Duration left = request.timeout().minusNanos(System.nanoTime() - start);
            if (!awaitQuietly(drained, left.compareTo(LINGER) > 0 ? left : LINGER)) {
                LOG.warn("{} (pid {}) exited but its output is still open, held by a process that could not be"
                        + " identified; the call ends without waiting for it", program, process.pid());
            }
            return;
        }
        for (int round = 0; round < 3; round++) {
            List<ProcessHandle> holders = identity.holders();
            if (holders.isEmpty()) {
                drained.join(); // nobody holds the pipes any more: their end is certain, only the reader is late
                return;
            }
            List<ProcessHandle> late = killGroup(process.pid()); // forked by a leftover before it was killed
            if (late.isEmpty()) {
                LOG.warn("{} (pid {}) exited but left {} process(es) outside its process group holding its output:"
                        + " {} (not killed; the call ends without waiting for them)", program, process.pid(),
                        holders.size(), describe(holders));
                return;
            }
            reportLeftovers(program, process.pid(), late);
            if (awaitQuietly(drained, LINGER)) {
                return;
            }
        }
        LOG.warn("{} (pid {}) exited and its output is still open after killing what held it; the call ends"
                + " without waiting for it", program, process.pid());
    }

    private static void reportLeftovers(String program, long pid, List<ProcessHandle> killed) {
        if (!killed.isEmpty()) {
            LOG.warn("{} (pid {}) exited but left {} process(es) running in its process group: killed {}", program,
                    pid, killed.size(), describe(killed));
        }
    }

    /** SIGKILL to what is left of the process group {@code pgid} (the child's own, from setsid); returns them. */
    private static List<ProcessHandle> killGroup(long pgid) {
        if (SETSID == null) {
            return List.of(); // the child shares the daemon's process group: never kill by group then
        }
        List<ProcessHandle> members = PipeHolders.groupMembers(pgid);
        members.forEach(ProcessTree::kill);
        return members;
    }

    private static String describe(List<ProcessHandle> processes) {
        return processes.stream().map(p -> p.pid() + " " + p.info().commandLine().orElse("?"))
                .collect(java.util.stream.Collectors.joining(", ", "[", "]"));
    }

    private static boolean awaitQuietly(CompletableFuture<?> f, Duration max) {
        try {
            f.get(max.toMillis(), TimeUnit.MILLISECONDS);
            return true;
        } catch (java.util.concurrent.TimeoutException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return f.isDone();
        } catch (java.util.concurrent.ExecutionException e) {
            return true;
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

    /** Output read from a pipe, kept up to a cap; readable while the pipe is still being read. */
    private static final class CappedBuffer {
        private final int cap;
        private final java.io.ByteArrayOutputStream kept;

        CappedBuffer(int cap) {
            this.cap = cap;
            this.kept = new java.io.ByteArrayOutputStream(Math.min(cap, 8192));
        }

        /**
         * Reads {@code in} to its end, keeping the first {@code cap} bytes; with {@code stopAtCap}, stops as
         * soon as more than that came (the caller kills the writer).
         *
         * @return whether more than {@code cap} bytes came
         */
        boolean drain(InputStream in, boolean stopAtCap) {
            byte[] buf = new byte[8192];
            boolean over = false;
            try (in) {
                int n;
                while ((n = in.read(buf)) >= 0) {
                    synchronized (this) {
                        int room = cap - kept.size();
                        kept.write(buf, 0, Math.max(0, Math.min(room, n)));
                        if (n > room) {
                            over = true;
                            if (stopAtCap) {
                                return true;
                            }
                        }
                    }
                }
            } catch (IOException e) {
                LOG.debug("child output pipe closed: {}", e.toString());
            }
            return over;
        }

        synchronized byte[] bytes() {
            return kept.toByteArray();
        }
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
