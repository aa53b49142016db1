package org.xenstorage.bench.migrate;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.xenstorage.bench.Harness;
import org.xenstorage.testing.DebianTools;
import org.xenstorage.testing.DebianTools.Tool;
import org.xenstorage.exec.ChildProcessRunner;
import org.xenstorage.exec.ExecRequest;
import org.xenstorage.exec.ExecResult;
import org.xenstorage.migrate.copy.NbdCopy;
import org.xenstorage.migrate.copy.NbdUri;

/**
 * The NBD copy path ({@link NbdCopy}: nbdcopy run, watched and cancellable from Java) against bare {@code nbdcopy}
 * with the same options, copying the same 1 GiB image into the same kind of export in the same run: a fresh
 * sparse raw file exported by qemu-storage-daemon on a Unix socket (what a tunnel to another host's export looks
 * like locally). Two images: mostly sparse (64 MiB of data in 1 MiB runs every 16 MiB) and fully written. Each
 * timing starts a new export of a new destination file (outside the timing), syncs the filesystem, then times
 * the copy to the end of nbdcopy's final flush; the copiers take turns at going first; the median of the
 * rounds is reported, with the ratio of throughputs (NbdCopy / bare; 1.00 = no cost), and the median of the
 * per-round ratios (the two runs of a round share the machine's state of the moment, which on a shared machine
 * moves more than the wrapper costs). A third row runs bare nbdcopy under setsid, as NbdCopy does: a session of
 * its own is a scheduling group of its own where the kernel groups by session (autogroup), which separates the
 * cost of the session from the cost of the Java around it. Issue 15 sets the target
 * for a remote DATA.copy at >= 0.9x of nbdcopy between the same two exports. A 1 MiB copy, with next to nothing
 * to move, measures the fixed cost of each copy.
 *
 * <p>Usage: {@code NbdCopyBench [dir] [rounds]} (defaults: java.io.tmpdir, 9). Needs nbdcopy (libnbd-bin) and
 * qemu-storage-daemon (qemu-system-common). Peak disk use: about 2 GiB.
 */
public final class NbdCopyBench {
    private static final long GIB = 1L << 30;
    private static final int MIB = 1 << 20;
    private static final Path NBDCOPY = NbdCopy.DEFAULT_NBDCOPY;
    private static final Path QSD = Path.of("/usr/bin/qemu-storage-daemon");

    private NbdCopyBench() {
    }

    public static void main(String[] args) throws Exception {
        DebianTools.requireAll(Tool.NBDCOPY, Tool.QEMU_STORAGE_DAEMON); // names the Debian package of a missing one
        Path parent = Path.of(args.length > 0 ? args[0] : System.getProperty("java.io.tmpdir"));
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 9;
        Path dir = Files.createTempDirectory(parent, "nbd-copy-bench");
        String loadBefore = Harness.loadAverage();
        try (ChildProcessRunner runner = new ChildProcessRunner()) {
            NbdCopy copier = NbdCopy.withSystemTools(runner);
            List<String[]> rows = new ArrayList<>();
            List<String> verdicts = new ArrayList<>();
            Path sparse = dir.resolve("sparse.img");
            Harness.makeImage(sparse, GIB, 16);
            measure("mostly sparse (64 MiB data)", sparse, GIB, dir, rounds, runner, copier, rows, verdicts);
            Files.delete(sparse);
            Path full = dir.resolve("full.img");
            Harness.makeImage(full, GIB, 1);
            measure("fully written", full, GIB, dir, rounds, runner, copier, rows, verdicts);
            Files.delete(full);
            // a copy with next to nothing to move: what each copy costs whatever its size
            Path tiny = dir.resolve("tiny.img");
            Harness.makeImage(tiny, MIB, 1);
            measure("1 MiB (fixed cost per copy)", tiny, MIB, dir, 2 * rounds + 1, runner, copier, rows, null);
            Files.delete(tiny);

            System.out.println("### NBD copy path: NbdCopy vs bare nbdcopy (1 GiB images, and 1 MiB for the fixed "
                    + "cost, into a qemu-storage-daemon export)");
            System.out.println();
            System.out.println("Machine: " + Harness.machine() + "; " + nbdcopyVersion(runner) + "; files under "
                    + parent + "; median of " + rounds + " runs (" + (2 * rounds + 1) + " for 1 MiB), the copiers"
                    + " taking turns at going first; destination a fresh sparse raw file exported on a Unix socket;"
                    + " every copier runs `nbdcopy --flush --destination-is-zero` (NbdCopy adds `--progress=1`);"
                    + " load average before " + loadBefore + ", after " + Harness.loadAverage() + ".");
            System.out.println();
            System.out.println("| image | copier | seconds | MiB/s | ratio to bare nbdcopy | median of per-round ratios |");
            System.out.println("|---|---|---:|---:|---:|---:|");
            rows.forEach(r -> System.out.println("| " + String.join(" | ", r) + " |"));
            System.out.println();
            System.out.println("Issue 15's target is for the whole remote DATA.copy between two hosts (>= 0.9× bare "
                    + "nbdcopy; `SxmTwoHostsBench`); this table is its copy engine's share, held to the same ratio: "
                    + "NbdCopy " + String.join(", ", verdicts) + " (the 1 MiB row is the fixed cost of a copy, no "
                    + "target).");
        } finally {
            Harness.deleteTree(dir);
        }
    }

    private static void measure(String image, Path src, long size, Path dir, int rounds, ChildProcessRunner runner,
                                NbdCopy copier, List<String[]> rows, List<String> verdicts) throws Exception {
        List<String> names = List.of("NbdCopy (Java: progress, cancel, errors)", "bare nbdcopy",
                "bare nbdcopy in a session of its own (setsid, as NbdCopy runs it)");
        List<Copy> copies = List.of(
                uri -> copier.upload(src, size, uri, NbdCopy.Destination.FRESH, f -> { }),
                uri -> bare(src, uri, false),
                uri -> bare(src, uri, true));
        double[][] secs = new double[copies.size()][rounds];
        for (int i = 0; i < rounds; i++) {
            for (int k = 0; k < copies.size(); k++) {
                int v = (i + k) % copies.size(); // each variant goes first, second, third in turn
                secs[v][i] = time(size, dir, runner, copies.get(v));
            }
        }
        double b = Harness.median(secs[1]);
        for (int v = 0; v < copies.size(); v++) {
            System.err.printf(Locale.ROOT, "%s: %s %s%n", image, names.get(v), Arrays.toString(secs[v]));
            double[] paired = new double[rounds];
            for (int i = 0; i < rounds; i++) {
                paired[i] = secs[1][i] / secs[v][i]; // the runs of a round share the machine's state of the moment
            }
            rows.add(row(image, names.get(v), Harness.median(secs[v]), size, b, Harness.median(paired)));
            if (v == 0 && verdicts != null) { // NbdCopy against the target, from the ratio of medians as printed
                double ratio = b / Harness.median(secs[v]);
                verdicts.add(String.format(Locale.ROOT, "%s %.2f× %s", image, ratio, Harness.atLeast(ratio, 0.9)));
            }
        }
    }

    @FunctionalInterface
    private interface Copy {
        void into(NbdUri uri) throws Exception;
    }

    /** Seconds one copy into a new export of a new, sparse destination takes. */
    private static double time(long size, Path dir, ChildProcessRunner runner, Copy copy) throws Exception {
        Path dst = dir.resolve("dst.img");
        Path exportDir = Files.createDirectories(dir.resolve("export"));
        Files.deleteIfExists(dst);
        try (RandomAccessFile f = new RandomAccessFile(dst.toFile(), "rw")) {
            f.setLength(size);
        }
        Process qsd = startExport(dst, exportDir);
        try {
            run(runner, "/usr/bin/sync", "-f", dir.toString()); // neither side pays for the other's dirty pages
            NbdUri uri = NbdUri.unixSocket(exportDir.resolve("nbd.sock"), "disk");
            long t0 = System.nanoTime();
            copy.into(uri);
            return (System.nanoTime() - t0) / 1e9;
        } finally {
            Harness.stop(qsd);
            Files.delete(dst);
        }
    }

    private static Process startExport(Path file, Path dir) throws Exception {
        Path pidFile = dir.resolve("qsd.pid");
        Files.deleteIfExists(pidFile);
        Files.deleteIfExists(dir.resolve("nbd.sock"));
        Process p = new ProcessBuilder(QSD.toString(),
                "--blockdev", "driver=file,node-name=file0,filename=" + file.toString().replace(",", ",,"),
                "--nbd-server", "addr.type=unix,addr.path=" + dir.resolve("nbd.sock"),
                "--export", "type=nbd,id=exp0,node-name=file0,name=disk,writable=on",
                "--pidfile", pidFile.toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("qsd.log").toFile()).start();
        Harness.awaitPidFile(p, pidFile, dir.resolve("qsd.log"), "qemu-storage-daemon");
        return p;
    }

    /** nbdcopy run directly with NbdCopy's options less its progress output; with {@code setsid} as NbdCopy runs it. */
    private static void bare(Path src, NbdUri uri, boolean setsid) throws Exception {
        List<String> argv = new ArrayList<>();
        if (setsid) {
            argv.add("/usr/bin/setsid");
        }
        argv.addAll(List.of(NBDCOPY.toString(), "--flush", "--destination-is-zero", "--", src.toString(), uri.text()));
        Process p = new ProcessBuilder(argv).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        int status = p.waitFor();
        if (status != 0) {
            throw new IOException("bare nbdcopy failed, exit status " + status);
        }
    }

    private static String nbdcopyVersion(ChildProcessRunner runner) throws IOException {
        ExecResult r = runner.run(ExecRequest.of(List.of(NBDCOPY.toString(), "--version"), Map.of("LC_ALL", "C"),
                Duration.ofMinutes(1)));
        return r.stdoutText().lines().findFirst().orElse("nbdcopy ?").strip();
    }

    private static void run(ChildProcessRunner runner, String... argv) throws IOException {
        ExecResult r = runner.run(ExecRequest.of(List.of(argv), Map.of("LC_ALL", "C"), Duration.ofMinutes(10)));
        if (!r.succeeded()) {
            throw new IOException(String.join(" ", argv) + " failed: " + r.stderrText());
        }
    }

    private static String[] row(String image, String copier, double secs, long size, double bare, double paired) {
        return new String[] {image, copier, String.format(Locale.ROOT, "%.3f", secs),
                String.format(Locale.ROOT, "%.0f", size / (double) MIB / secs),
                String.format(Locale.ROOT, "%.2f×", bare / secs),
                String.format(Locale.ROOT, "%.2f×", paired)};
    }
}
