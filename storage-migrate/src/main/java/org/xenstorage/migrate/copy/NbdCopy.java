package org.xenstorage.migrate.copy;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.DoubleConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.exec.ChildProcessRunner;
import org.xenstorage.exec.ExecRequest;
import org.xenstorage.exec.ExecResult;
import org.xenstorage.exec.ProcessTree;
import org.xenstorage.threads.EventLoopGuard;

/**
 * Copies a disk's bytes to or from an NBD export by running {@code nbdcopy} (Debian package libnbd-bin), the
 * NBD project's own copier: the path a DATA.copy to another host takes once the remote VDI's export is reachable
 * as an {@link NbdUri} (a local {@code nbd+unix} socket tunnelled to the other host, or {@code nbd://} over TCP).
 *
 * <ul>
 *   <li><b>Sparse.</b> nbdcopy reads a local source's holes from {@code SEEK_DATA}/{@code SEEK_HOLE} (an NBD
 *       source's from its block status) and detects zero blocks in the data it reads (4 KiB granules). On a
 *       {@link Destination#FRESH} destination both are skipped outright ({@code --destination-is-zero}): not a
 *       byte and not a request goes over the wire for them. On an {@link Destination#OVERWRITE} destination
 *       (a clone that may hold data) they become NBD zero requests (no payload; the server punches holes where
 *       it can), so the result is right whatever the destination held.</li>
 *   <li><b>Durable.</b> {@code --flush}: the destination is flushed before nbdcopy exits, as
 *       {@link SparseCopier} fsyncs.</li>
 *   <li><b>Progress.</b> nbdcopy's machine-readable progress ({@code --progress=1}: lines {@code N/100} on its
 *       stdout, which nothing else uses) becomes a fraction for the caller's callback: 0 at the start, rising,
 *       and 1.0 only once nbdcopy has exited successfully (its own 100 comes before its final flush).</li>
 *   <li><b>Cancel.</b> {@link Running#cancel()} kills nbdcopy's whole process tree and process group (it runs
 *       in a session of its own, as every child of {@link ChildProcessRunner} does) and returns at once;
 *       {@link Running#await()} then throws {@link CancellationException}.</li>
 *   <li><b>Errors.</b> A non-zero exit becomes an {@link NbdCopyException} naming both ends, the exit status
 *       and what nbdcopy said on stderr (an unreachable export, a destination smaller than the source, ...).</li>
 * </ul>
 *
 * <p>nbdcopy always copies its whole source. A local source longer than the range to copy (a block device
 * rounded up to its volume manager's extent) is therefore read through {@code qemu-nbd} (qemu-utils), which
 * nbdcopy runs as its own subprocess over socket activation, with qemu's raw driver cut to the range's size (which
 * qemu wants a multiple of 512, as virtual sizes are; otherwise qemu's refusal is the copy's error).
 *
 * <p>Why a child process and not {@link ChildProcessRunner#run}: that call returns only when the child has
 * ended, and a copy needs its progress while it runs and a way to stop it from another thread. The discipline
 * is the same: argv only (no shell), an explicit environment, a session and process group of its own, the whole
 * tree killed on cancel, whatever is left of the group killed when it ends. Short helper runs (nbdinfo) go
 * through the runner.
 */
public final class NbdCopy {
    private static final Logger LOG = LoggerFactory.getLogger(NbdCopy.class);

    /** Where Debian's libnbd-bin installs nbdcopy. */
    public static final Path DEFAULT_NBDCOPY = Path.of("/usr/bin/nbdcopy");
    /** Where Debian's libnbd-bin installs nbdinfo (used to check an NBD source's size before a download). */
    public static final Path DEFAULT_NBDINFO = Path.of("/usr/bin/nbdinfo");
    /** Where Debian's qemu-utils installs qemu-nbd (used only for a local source longer than the range). */
    public static final Path DEFAULT_QEMU_NBD = Path.of("/usr/bin/qemu-nbd");

    /** setsid(1): runs the child in a session (so a process group) of its own, exec'ing it in place, no shell. */
    private static final Path SETSID = Stream.of("/usr/bin/setsid", "/bin/setsid").map(Path::of)
            .filter(Files::isExecutable).findFirst().orElse(null);
    private static final Pattern PROGRESS_LINE = Pattern.compile("^\\s*(\\d{1,3})/100\\s*$");
    /** How long after nbdcopy's exit its output may take to end before it is no longer waited for. */
    private static final Duration OUTPUT_LINGER = Duration.ofSeconds(5);
    private static final int MAX_STDERR_BYTES = 64 << 10;
    private static final Map<String, String> ENVIRONMENT = Map.of(
            "LC_ALL", "C",
            "PATH", "/usr/sbin:/usr/bin:/sbin:/bin");

    /** What the destination holds before the copy. */
    public enum Destination {
        /** Reads as zeros everywhere (a freshly created VDI): zero blocks and holes are skipped outright. */
        FRESH,
        /** May hold data (a clone of a similar VDI): zero blocks and holes are written as NBD zero requests. */
        OVERWRITE
    }

    /**
     * What a finished copy did.
     *
     * @param length  bytes in the copied range
     * @param elapsed wall-clock time from nbdcopy's start to its exit (its final flush included)
     */
    public record Result(long length, Duration elapsed) {
        /** Throughput over the whole range, in MiB/s (holes count as copied, as a user sees it). */
        public double mibPerSecond() {
            return length / (1024.0 * 1024.0) / (Math.max(elapsed.toNanos(), 1) / 1e9);
        }
    }

    /** nbdcopy (or a helper it needs) failed: the message names both ends, the exit status and nbdcopy's stderr. */
    public static final class NbdCopyException extends IOException {
        private static final long serialVersionUID = 1L;
        private final int exitStatus;
        private final String stderr;

        NbdCopyException(String message, int exitStatus, String stderr) {
            super(message);
            this.exitStatus = exitStatus;
            this.stderr = stderr;
        }

        /** nbdcopy's exit status (128 + n when signal n killed it), or -1 when it never ran. */
        public int exitStatus() {
            return exitStatus;
        }

        /** What nbdcopy wrote on stderr (at most 64 KiB). */
        public String stderr() {
            return stderr;
        }
    }

    private final ChildProcessRunner runner;
    private final Path nbdcopy;
    private final Path nbdinfo;
    private final Path qemuNbd;

    /**
     * @param runner  runs the short helper (nbdinfo)
     * @param nbdcopy the nbdcopy program
     * @param nbdinfo the nbdinfo program (downloads only)
     * @param qemuNbd the qemu-nbd program (only for a local source longer than the range to copy)
     */
    public NbdCopy(ChildProcessRunner runner, Path nbdcopy, Path nbdinfo, Path qemuNbd) {
        this.runner = Objects.requireNonNull(runner, "runner");
        this.nbdcopy = Objects.requireNonNull(nbdcopy, "nbdcopy");
        this.nbdinfo = Objects.requireNonNull(nbdinfo, "nbdinfo");
        this.qemuNbd = Objects.requireNonNull(qemuNbd, "qemuNbd");
    }

    /** With the Debian tools where Debian installs them ({@code /usr/bin}). */
    public static NbdCopy withSystemTools(ChildProcessRunner runner) {
        return new NbdCopy(runner, DEFAULT_NBDCOPY, DEFAULT_NBDINFO, DEFAULT_QEMU_NBD);
    }

    /**
     * Starts copying bytes {@code [0, size)} of a local file or block device onto an NBD export.
     *
     * @param source      absolute path of a regular file or block device holding at least {@code size} bytes
     * @param size        bytes to copy; the export must be at least this large
     * @param destination the export
     * @param state       what the export holds now ({@link Destination#FRESH} skips zeros outright)
     * @param progress    called with the fraction done, from a thread of this copy; an exception it throws
     *                    stops the copy, and {@link Running#await()} throws it
     * @throws IOException when the copy cannot start: nbdcopy missing, a bad source, a source shorter than
     *                     {@code size}
     */
    public Running startUpload(Path source, long size, NbdUri destination, Destination state,
                               DoubleConsumer progress) throws IOException {
        requireLocalPath(source, "source");
        if (size < 0) {
            throw new IllegalArgumentException("negative size");
        }
        if (!Files.exists(source)) {
            throw new NoSuchFileException(source.toString(), null, "copy source does not exist");
        }
        long length = localLength(source);
        if (length < size) {
            throw new IOException("source " + source + " holds " + length + " bytes, fewer than the " + size
                    + " to copy");
        }
        List<String> sourceArgs;
        if (length == size) {
            sourceArgs = List.of(source.toString());
        } else {
            // nbdcopy copies a whole source: read this one through qemu's raw driver cut to the range
            requireProgram(qemuNbd, "qemu-utils", "to read the first " + size + " of " + length + " bytes of " + source);
            sourceArgs = List.of("[", qemuNbd.toString(), "--read-only",
                    truncatedRawImage(source, size, !Files.isRegularFile(source)), "]");
        }
        return start(sourceArgs, destination.text(), source + " -> " + destination, size, state, progress);
    }

    /**
     * Starts copying the whole of an NBD export, which must be exactly {@code size} bytes (checked with
     * nbdinfo first), onto a local file or block device.
     *
     * @param destination an existing regular file (set to {@code size} bytes by nbdcopy) or a block device of
     *                    at least {@code size} bytes
     * @see #startUpload for the other parameters
     */
    public Running startDownload(NbdUri source, long size, Path destination, Destination state,
                                 DoubleConsumer progress) throws IOException {
        requireLocalPath(destination, "destination");
        if (!Files.exists(destination)) {
            throw new NoSuchFileException(destination.toString(), null, "copy destination must exist");
        }
        long exportSize = exportSize(source);
        if (exportSize != size) {
            throw new IOException("the NBD export " + source + " is " + exportSize + " bytes, not the " + size
                    + " to copy");
        }
        return start(List.of(source.text()), destination.toString(), source + " -> " + destination, size, state,
                progress);
    }

    /** {@link #startUpload} and {@link Running#await()}. */
    public Result upload(Path source, long size, NbdUri destination, Destination state, DoubleConsumer progress)
            throws IOException, InterruptedException {
        return startUpload(source, size, destination, state, progress).await();
    }

    /** {@link #startDownload} and {@link Running#await()}. */
    public Result download(NbdUri source, long size, Path destination, Destination state, DoubleConsumer progress)
            throws IOException, InterruptedException {
        return startDownload(source, size, destination, state, progress).await();
    }

    /** The argv of the nbdcopy run (without setsid), for tests and logs. */
    List<String> argv(List<String> sourceArgs, String destinationArg, Destination state) {
        List<String> argv = new ArrayList<>();
        argv.add(nbdcopy.toString());
        argv.add("--progress=1"); // machine-readable "N/100" lines on stdout
        argv.add("--flush");
        if (state == Destination.FRESH) {
            argv.add("--destination-is-zero");
        }
        argv.add("--"); // nothing after this is an option, neither ours nor a subprocess's
        argv.addAll(sourceArgs);
        argv.add(destinationArg);
        return argv;
    }

    private Running start(List<String> sourceArgs, String destinationArg, String what, long size,
                          Destination state, DoubleConsumer progress) throws IOException {
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(progress, "progress");
        EventLoopGuard.mayBlock("NbdCopy " + what);
        requireProgram(nbdcopy, "libnbd-bin", "to copy " + what);
        List<String> command = new ArrayList<>();
        if (SETSID != null) {
            command.add(SETSID.toString());
        }
        command.addAll(argv(sourceArgs, destinationArg, state));
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().clear();
        pb.environment().putAll(ENVIRONMENT);
        pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        long started = System.nanoTime();
        Process process = pb.start();
        LOG.info("nbdcopy {} ({} bytes, destination {}), pid {}", what, size, state, process.pid());
        return new Running(process, what, size, progress, started);
    }

    /** One nbdcopy run. Thread-safe: one thread awaits, any other may cancel. */
    public static final class Running {
        private final Process process;
        private final String what;
        private final long size;
        private final DoubleConsumer progress;
        private final long started;
        private final CompletableFuture<Long> exitedAt;
        private final AtomicBoolean cancelled = new AtomicBoolean();
        private final AtomicReference<RuntimeException> callbackFailure = new AtomicReference<>();
        private final ByteArrayOutputStream stderr = new ByteArrayOutputStream();
        private final Thread progressReader;
        private final Thread stderrReader;
        private double reported = -1;
        private Result result;

        private Running(Process process, String what, long size, DoubleConsumer progress, long started) {
            this.process = process;
            this.what = what;
            this.size = size;
            this.progress = progress;
            this.started = started;
            this.exitedAt = process.onExit().thenApply(p -> System.nanoTime());
            this.progressReader = daemon("nbdcopy-progress-" + process.pid(), this::readProgress);
            this.stderrReader = daemon("nbdcopy-stderr-" + process.pid(), this::readStderr);
            progressReader.start();
            stderrReader.start();
        }

        /** nbdcopy's process id (its process group's too). */
        public long pid() {
            return process.pid();
        }

        /** Whether nbdcopy has ended. */
        public boolean isDone() {
            return !process.isAlive();
        }

        /** Whether {@link #cancel()} was called. */
        public boolean isCancelled() {
            return cancelled.get();
        }

        /**
         * Stops the copy: kills nbdcopy, everything it started and anything left in its process group, and
         * returns without waiting for them to be reaped. Calling it again, or after the end, is harmless.
         */
        public void cancel() {
            if (cancelled.compareAndSet(false, true) && process.isAlive()) {
                LOG.info("nbdcopy {} (pid {}) cancelled: killing it", what, process.pid());
                kill();
            }
        }

        private void kill() {
            ProcessTree.kill(process);
            killGroup(process.pid());
        }

        /**
         * Waits for the end of the copy.
         *
         * @return what it did, after the callback was told 1.0
         * @throws CancellationException after {@link #cancel()}
         * @throws NbdCopyException      when nbdcopy failed
         * @throws InterruptedException  when the waiting thread is interrupted: the copy is cancelled first
         * @throws RuntimeException      what the progress callback threw (the copy was stopped then)
         */
        public synchronized Result await() throws IOException, InterruptedException {
            if (result != null) {
                return result;
            }
            EventLoopGuard.mayBlock("NbdCopy.await " + what);
            int status;
            try {
                status = process.waitFor();
            } catch (InterruptedException e) {
                cancel();
                throw e;
            }
            Duration elapsed = Duration.ofNanos(exitedAt.join() - started);
            killGroup(process.pid()); // whatever it left in its group (a qemu-nbd it ran, if it died first)
            progressReader.join(OUTPUT_LINGER.toMillis());
            stderrReader.join(OUTPUT_LINGER.toMillis());
            String err;
            synchronized (stderr) {
                err = stderr.toString(StandardCharsets.UTF_8).strip();
            }
            RuntimeException failure = callbackFailure.get();
            if (failure != null) {
                throw failure;
            }
            if (cancelled.get()) {
                throw new CancellationException("nbdcopy " + what + " cancelled");
            }
            if (SETSID != null && (status == 126 || status == 127) && err.startsWith("setsid: failed to execute")) {
                throw new NbdCopyException("could not run nbdcopy for " + what + ": " + err, -1, err);
            }
            if (status != 0) {
                LOG.warn("nbdcopy {} failed (exit status {}): {}", what, status, err);
                throw new NbdCopyException(failureMessage(what, status, err), status, err);
            }
            progress.accept(1.0);
            result = new Result(size, elapsed);
            LOG.info("nbdcopy {} done: {} bytes in {} ms ({} MiB/s)", what, size, elapsed.toMillis(),
                    String.format(Locale.ROOT, "%.1f", result.mibPerSecond()));
            return result;
        }

        private void readProgress() {
            try (BufferedReader in = new BufferedReader(
                    new InputStreamReader(process.getInputStream(), StandardCharsets.US_ASCII))) {
                String line;
                while ((line = in.readLine()) != null) {
                    double fraction = parseProgress(line);
                    // 1.0 is told after the exit: nbdcopy's 100 comes before its flush
                    if (fraction >= 0 && fraction > reported && callbackFailure.get() == null) {
                        reported = fraction;
                        tell(Math.min(fraction, 0.99));
                    }
                }
            } catch (IOException e) {
                LOG.debug("nbdcopy {} progress pipe closed: {}", what, e.toString());
            }
        }

        private void tell(double fraction) {
            try {
                progress.accept(fraction);
            } catch (RuntimeException e) {
                if (callbackFailure.compareAndSet(null, e) && process.isAlive()) {
                    LOG.info("nbdcopy {} (pid {}) stopped by its progress callback: {}", what, process.pid(),
                            e.toString());
                    kill();
                }
            }
        }

        private void readStderr() {
            byte[] buf = new byte[8192];
            try (InputStream in = process.getErrorStream()) {
                int n;
                while ((n = in.read(buf)) >= 0) {
                    synchronized (stderr) {
                        stderr.write(buf, 0, Math.max(0, Math.min(n, MAX_STDERR_BYTES - stderr.size())));
                    }
                }
            } catch (IOException e) {
                LOG.debug("nbdcopy {} stderr pipe closed: {}", what, e.toString());
            }
        }
    }

    /** A line of nbdcopy's machine-readable progress as a fraction, or -1 when it is not one. */
    static double parseProgress(String line) {
        Matcher m = PROGRESS_LINE.matcher(line);
        if (!m.matches()) {
            return -1;
        }
        return Math.min(100, Integer.parseInt(m.group(1))) / 100.0;
    }

    /** The error text for a failed run: both ends, the exit status (or signal), and nbdcopy's own words. */
    static String failureMessage(String what, int status, String stderr) {
        StringBuilder msg = new StringBuilder("nbdcopy ").append(what).append(" failed (");
        if (status > 128 && status < 128 + 65) {
            msg.append("killed by signal ").append(status - 128);
        } else {
            msg.append("exit status ").append(status);
        }
        msg.append(")");
        String said = stderr.lines().map(String::strip).filter(l -> !l.isEmpty())
                .collect(java.util.stream.Collectors.joining(" | "));
        if (said.length() > 2000) {
            said = said.substring(0, 2000) + "...";
        }
        String lower = said.toLowerCase(Locale.ROOT);
        if (lower.contains("nbd_connect_uri")) { // libnbd names the call that failed: the connection or handshake
            msg.append(": cannot reach the NBD export");
        } else if (lower.contains("smaller than source")) {
            msg.append(": the destination is smaller than the source");
        }
        msg.append(said.isEmpty() ? ", nothing on stderr" : ": " + said);
        return msg.toString();
    }

    /**
     * A qemu {@code json:} image name for the first {@code size} bytes of {@code path}, read-only, through the
     * raw driver's size option; a block device through qemu's host_device driver. Locking is off: this reads a
     * source another process may hold open (the copy reads, it never writes).
     */
    static String truncatedRawImage(Path path, long size, boolean blockDevice) {
        return "json:{\"driver\":\"raw\",\"size\":" + size + ",\"file\":{\"driver\":\""
                + (blockDevice ? "host_device" : "file") + "\",\"filename\":" + jsonString(path.toString())
                + ",\"locking\":\"off\"}}";
    }

    private static String jsonString(String s) {
        StringBuilder out = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                out.append('\\').append(c);
            } else if (c < 0x20) {
                out.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
            } else {
                out.append(c);
            }
        }
        return out.append('"').toString();
    }

    private static void requireLocalPath(Path p, String role) {
        Objects.requireNonNull(p, role);
        if (!p.isAbsolute() || !p.normalize().equals(p)) {
            // absolute and normalised, so it can never be taken for an option or "[" or "-" by nbdcopy
            throw new IllegalArgumentException(role + " must be an absolute, normalised path: " + p);
        }
    }

    private static void requireProgram(Path program, String debianPackage, String why) throws IOException {
        if (!(Files.isRegularFile(program) && Files.isExecutable(program))) {
            throw new NbdCopyException(program.getFileName() + " is not installed (" + program + " is missing), needed "
                    + why + ": install the Debian package " + debianPackage + " (apt-get install -y " + debianPackage
                    + ")", -1, "");
        }
    }

    /** Bytes in a regular file or block device (the JDK asks a block device for its size: BLKGETSIZE64). */
    private static long localLength(Path p) throws IOException {
        if (Files.isRegularFile(p)) {
            return Files.size(p);
        }
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            return ch.size();
        }
    }

    /** The export's size in bytes, from {@code nbdinfo --size}. */
    private long exportSize(NbdUri uri) throws IOException {
        requireProgram(nbdinfo, "libnbd-bin", "to check the size of " + uri);
        ExecResult r = runner.run(ExecRequest.of(List.of(nbdinfo.toString(), "--size", "--", uri.text()),
                ENVIRONMENT, Duration.ofMinutes(2)).withLabel("nbdinfo --size " + uri));
        if (!r.succeeded()) {
            throw new NbdCopyException("nbdinfo --size " + uri + " failed (" + r.termination() + ", exit status "
                    + r.exitStatus() + "): " + r.stderrText().strip(), r.exitStatus(), r.stderrText());
        }
        try {
            return Long.parseLong(r.stdoutText().strip());
        } catch (NumberFormatException e) {
            throw new IOException("nbdinfo --size " + uri + " printed no size: " + r.stdoutText().strip());
        }
    }

    /** SIGKILL to what is left of process group {@code pgid} (nbdcopy's own, from setsid). */
    private static void killGroup(long pgid) {
        if (SETSID == null || pgid <= 1) {
            return; // it shares the JVM's group then: never kill by group
        }
        for (ProcessHandle p : groupMembers(pgid)) {
            ProcessTree.kill(p);
        }
    }

    /** The live processes whose process group is {@code pgid} (this JVM's own group never). */
    static List<ProcessHandle> groupMembers(long pgid) {
        return ProcessTree.groupMembers(pgid);
    }

    private static Thread daemon(String name, Runnable body) {
        Thread t = new Thread(body, name);
        t.setDaemon(true);
        return t;
    }
}
