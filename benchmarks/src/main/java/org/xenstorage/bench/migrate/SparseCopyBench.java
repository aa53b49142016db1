package org.xenstorage.bench.migrate;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.xenstorage.bench.Harness;
import org.xenstorage.exec.ChildProcessRunner;
import org.xenstorage.exec.ExecRequest;
import org.xenstorage.exec.ExecResult;
import org.xenstorage.migrate.copy.CopyMonitor;
import org.xenstorage.migrate.copy.DataExtents;
import org.xenstorage.migrate.copy.SparseCopier;

/**
 * DATA.copy's engine against {@code cp --sparse=always} on the same disk, in the same run: a 1 GiB
 * image that is mostly sparse (64 MiB of data in 1 MiB runs) and one that is fully written. The
 * engine always fsyncs at the end (a copied VDI must be durable); cp does not, so cp is shown both
 * alone and followed by {@code sync <file>} (an fsync of that file), the like-for-like baseline.
 * Source files are in the page cache for every run (warm), as they are on a host that just wrote them.
 *
 * <p>Usage: {@code SparseCopyBench [dir] [rounds]}; files live in a temporary directory under
 * {@code dir} (default: java.io.tmpdir) and are deleted at the end. Peak disk use: about 2 GiB.
 */
public final class SparseCopyBench {
    private static final long GIB = 1L << 30;
    private static final int MIB = 1 << 20;

    private SparseCopyBench() {
    }

    public static void main(String[] args) throws Exception {
        Path parent = Path.of(args.length > 0 ? args[0] : System.getProperty("java.io.tmpdir"));
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        Path dir = Files.createTempDirectory(parent, "sparse-copy-bench");
        try (ChildProcessRunner runner = new ChildProcessRunner()) {
            List<String[]> rows = new ArrayList<>();
            List<String> verdicts = new ArrayList<>();
            Path sparse = dir.resolve("sparse.img");
            Harness.makeImage(sparse, GIB, 16);
            measure("mostly sparse (64 MiB data)", sparse, dir, rounds, runner, rows, verdicts);
            Files.delete(sparse);
            Path full = dir.resolve("full.img");
            Harness.makeImage(full, GIB, 1);
            measure("fully written", full, dir, rounds, runner, rows, verdicts);
            Files.delete(full);

            System.out.println("### DATA.copy engine vs cp --sparse=always (1 GiB image, same disk)");
            System.out.println();
            System.out.println("Machine: " + Harness.machine() + "; files under " + parent + "; median of "
                    + rounds + " runs; source in page cache.");
            System.out.println();
            System.out.println("| image | copier | seconds | MiB/s | ratio to cp | ratio to cp + fsync |");
            System.out.println("|---|---|---:|---:|---:|---:|");
            rows.forEach(r -> System.out.println("| " + String.join(" | ", r) + " |"));
            System.out.println();
            System.out.println("Against issue 7's target, the engine >= 0.8× the throughput of `cp --sparse=always`: "
                    + String.join(", ", verdicts) + ".");
        } finally {
            Harness.deleteTree(dir);
        }
    }

    private static void measure(String image, Path src, Path dir, int rounds, ChildProcessRunner runner,
                                List<String[]> rows, List<String> verdicts) throws Exception {
        Path dst = dir.resolve("dst.img");
        double[] engine = new double[rounds];
        double[] engineNoMap = new double[rounds];
        double[] cp = new double[rounds];
        double[] cpSync = new double[rounds];
        SparseCopier withMap = new SparseCopier(SparseCopier.DEFAULT_BLOCK, DataExtents.withSystemPython(runner));
        SparseCopier noMap = new SparseCopier(SparseCopier.DEFAULT_BLOCK, DataExtents.disabled());
        for (int i = 0; i < rounds; i++) {
            // Alternate who goes first, and let writeback settle before each timing, so neither side
            // pays for the other's dirty pages.
            boolean engineFirst = i % 2 == 0;
            if (!engineFirst) {
                timeCp(runner, src, dst, dir, cp, cpSync, i);
            }
            settle(runner, dir);
            engine[i] = timeEngine(withMap, src, dst);
            settle(runner, dir);
            engineNoMap[i] = timeEngine(noMap, src, dst);
            if (engineFirst) {
                timeCp(runner, src, dst, dir, cp, cpSync, i);
            }
        }
        double e = Harness.median(engine);
        double en = Harness.median(engineNoMap);
        double c = Harness.median(cp);
        double cs = Harness.median(cpSync);
        rows.add(row(image, "engine (extent map + zero skip + fsync)", e, c, cs));
        rows.add(row(image, "engine without extent map (+ fsync)", en, c, cs));
        rows.add(row(image, "cp --sparse=always", c, c, cs));
        rows.add(row(image, "cp --sparse=always; sync FILE", cs, c, cs));
        verdicts.add(String.format(Locale.ROOT, "%s %.2f× %s (%.2f× of cp + fsync)", image, c / e,
                Harness.atLeast(c / e, 0.8), cs / e));
    }

    private static void timeCp(ChildProcessRunner runner, Path src, Path dst, Path dir, double[] cp, double[] cpSync,
                               int i) throws IOException {
        settle(runner, dir);
        long t0 = System.nanoTime();
        run(runner, "/usr/bin/cp", "--sparse=always", src.toString(), dst.toString());
        long t1 = System.nanoTime();
        run(runner, "/usr/bin/sync", dst.toString());
        long t2 = System.nanoTime();
        cp[i] = (t1 - t0) / 1e9;
        cpSync[i] = (t2 - t0) / 1e9;
        Files.delete(dst);
    }

    /** Flushes the filesystem holding {@code dir}, so earlier runs' dirty pages do not slow the next. */
    private static void settle(ChildProcessRunner runner, Path dir) throws IOException {
        run(runner, "/usr/bin/sync", "-f", dir.toString());
    }

    private static double timeEngine(SparseCopier copier, Path src, Path dst) throws IOException {
        Files.deleteIfExists(dst);
        Files.createFile(dst);
        long t0 = System.nanoTime();
        copier.copy(src, dst, GIB, true, CopyMonitor.NONE);
        double secs = (System.nanoTime() - t0) / 1e9;
        Files.delete(dst);
        return secs;
    }

    private static void run(ChildProcessRunner runner, String... argv) throws IOException {
        ExecResult r = runner.run(ExecRequest.of(List.of(argv), Map.of("LC_ALL", "C"), Duration.ofMinutes(10)));
        if (!r.succeeded()) {
            throw new IOException(String.join(" ", argv) + " failed: " + r.stderrText());
        }
    }

    private static String[] row(String image, String copier, double secs, double cp, double cpSync) {
        return new String[] {image, copier, String.format(Locale.ROOT, "%.3f", secs),
                String.format(Locale.ROOT, "%.0f", 1024 / secs),
                String.format(Locale.ROOT, "%.2f×", cp / secs),
                String.format(Locale.ROOT, "%.2f×", cpSync / secs)};
    }
}
