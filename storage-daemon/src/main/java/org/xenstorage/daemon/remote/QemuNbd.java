package org.xenstorage.daemon.remote;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.exec.ProcessTree;
import org.xenstorage.threads.EventLoopGuard;

/**
 * One {@code qemu-nbd} (Debian package qemu-utils) exporting a raw file or block device on a private Unix socket,
 * for the life of one NBD connection: writable, the default export name ({@code ""}), one client; it exits by
 * itself when that client disconnects and is killed by {@link #close()} in any case.
 *
 * <p>Started with {@link ProcessBuilder} from an argv (no shell), an explicit environment, output to a log file in
 * its private directory (read back when it fails to start). Not through {@code ChildProcessRunner}: that runs a
 * command to completion, while this is a server whose life is a connection's. Every method blocks: call them on
 * an executor, never on an event loop.
 */
final class QemuNbd implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(QemuNbd.class);
    /** The Debian package that ships qemu-nbd, named in every error about it. */
    static final String PACKAGE = "qemu-utils";
    private static final List<Path> CANDIDATES = Stream.of("/usr/bin/qemu-nbd", "/usr/local/bin/qemu-nbd",
            "/bin/qemu-nbd").map(Path::of).toList();
    private static final String DIR_PREFIX = "q-";

    private final Process process;
    private final Path dir;
    private final Path socket;
    private final Path log;
    private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();

    private QemuNbd(Process process, Path dir, Path socket, Path log) {
        this.process = process;
        this.dir = dir;
        this.socket = socket;
        this.log = log;
    }

    /** The installed qemu-nbd, if any. */
    static Optional<Path> find() {
        return CANDIDATES.stream().filter(Files::isExecutable).findFirst();
    }

    /**
     * Starts qemu-nbd on {@code image} in a new private directory under {@code baseDir} and waits until it serves
     * the export (its pid file is written), or exits, or {@code startTimeout} passes. An image locked by another
     * process is tried again until then.
     *
     * @throws IOException when it is not installed, cannot start, or exits before it listens (with its output)
     */
    static QemuNbd start(Path image, Path baseDir, Duration startTimeout) throws IOException, InterruptedException {
        EventLoopGuard.mayBlock("qemu-nbd start");
        Path program = find().orElseThrow(() -> new IOException("qemu-nbd is not installed (Debian package "
                + PACKAGE + ")"));
        long deadline = System.nanoTime() + startTimeout.toNanos();
        for (int attempt = 1; ; attempt++) {
            try {
                return startOnce(program, image, baseDir, deadline);
            } catch (LockedImage e) {
                // the qemu-nbd of the connection that just closed holds the image's lock until it has exited
                if (System.nanoTime() - deadline > 0) {
                    throw new IOException(e.getMessage(), e);
                }
                Thread.sleep(Math.min(200, 10L * attempt));
            }
        }
    }

    /** qemu-nbd could not take the image's write lock: another process (often the previous qemu-nbd) has it. */
    private static final class LockedImage extends IOException {
        LockedImage(String message) {
            super(message);
        }
    }

    private static QemuNbd startOnce(Path program, Path image, Path baseDir, long deadline)
            throws IOException, InterruptedException {
        Files.createDirectories(baseDir);
        Path dir = Files.createTempDirectory(baseDir, DIR_PREFIX,
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Path socket = dir.resolve("s");
        Path log = dir.resolve("log");
        Path pidFile = dir.resolve("pid");
        // qemu-nbd makes its socket before it opens the image, and writes its pid file once the export is ready
        List<String> argv = List.of(program.toString(), "--format=raw",
                "--socket=" + socket.toAbsolutePath().normalize(), "--pid-file=" + pidFile.toAbsolutePath(),
                "--discard=unmap", "--", image.toString());
        ProcessBuilder pb = new ProcessBuilder(argv).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.to(log.toFile()))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.environment().clear();
        pb.environment().putAll(Map.of("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL", "C"));
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            removeDir(dir);
            throw new IOException("cannot start " + program + " (Debian package " + PACKAGE + "): " + e.getMessage(),
                    e);
        }
        QemuNbd q = new QemuNbd(p, dir, socket, log);
        long pause = 2;
        while (!ready(pidFile)) {
            if (!p.isAlive()) {
                String out = q.output();
                q.close();
                String why = "qemu-nbd exited with status " + p.exitValue() + " before it listened: " + out;
                throw out.contains("lock") ? new LockedImage(why) : new IOException(why);
            }
            if (System.nanoTime() - deadline > 0) {
                q.close();
                throw new IOException("qemu-nbd did not listen in time");
            }
            Thread.sleep(pause);
            pause = Math.min(50, pause * 2);
        }
        LOG.debug("qemu-nbd pid {} serves {} on {}", p.pid(), image, socket);
        return q;
    }

    private static boolean ready(Path pidFile) {
        try {
            return Files.size(pidFile) > 0;
        } catch (IOException e) {
            return false; // not written yet
        }
    }

    /** Its Unix socket. */
    Path socket() {
        return socket;
    }

    long pid() {
        return process.pid();
    }

    boolean alive() {
        return process.isAlive();
    }

    private String output() {
        try {
            String s = Files.readString(log, StandardCharsets.UTF_8).strip();
            return s.length() > 2000 ? s.substring(s.length() - 2000) : s;
        } catch (IOException e) {
            return "(no output: " + e + ")";
        }
    }

    /** Kills it (if it has not exited already) and removes its directory. */
    @Override
    public void close() {
        EventLoopGuard.mayBlock("qemu-nbd stop");
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        if (process.isAlive()) {
            ProcessTree.kill(process);
        }
        try {
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                LOG.warn("qemu-nbd pid {} did not exit after SIGKILL", process.pid());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        removeDir(dir);
    }

    private static void removeDir(Path dir) {
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.toList()) {
                Files.deleteIfExists(f);
            }
            Files.deleteIfExists(dir);
        } catch (IOException e) {
            LOG.warn("cannot remove {}: {}", dir, e.toString());
        }
    }

    /**
     * What a killed daemon left under {@code baseDir}: its qemu-nbd processes (recognised by their socket
     * argument) are killed and their directories removed. Returns how many processes were killed.
     */
    static int reclaim(Path baseDir) {
        EventLoopGuard.mayBlock("qemu-nbd reclaim");
        String marker = "--socket=" + baseDir.toAbsolutePath().normalize() + "/" + DIR_PREFIX;
        List<ProcessHandle> stale = ProcessHandle.allProcesses()
                .filter(p -> p.info().arguments().map(args -> Stream.of(args).anyMatch(a -> a.startsWith(marker)))
                        .orElse(false))
                .toList();
        stale.forEach(ProcessTree::kill);
        List<Path> dirs = new ArrayList<>();
        if (Files.isDirectory(baseDir)) {
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(baseDir, DIR_PREFIX + "*")) {
                ds.forEach(dirs::add);
            } catch (IOException e) {
                LOG.warn("cannot list {}: {}", baseDir, e.toString());
            }
        }
        dirs.forEach(QemuNbd::removeDir);
        if (!stale.isEmpty() || !dirs.isEmpty()) {
            LOG.info("reclaimed {} qemu-nbd process(es) and {} socket directory(ies) a previous run left in {}",
                    stale.size(), dirs.size(), baseDir);
        }
        return stale.size();
    }
}
