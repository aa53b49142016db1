package org.xenstorage.bench.daemon;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.xenstorage.bench.Harness;
import org.xenstorage.exec.ExecJournal;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.rpc.StorageClient;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.messageswitch.client.SwitchRpcClient;

/**
 * Issue 17's boot storm: what a pool host lives through when hundreds of VMs start at once. A real storage-daemon
 * process (embedded mode, the systemd unit's heap) serves 8 SRs, 4 on the example SMAPIv1 driver ({@code
 * localfile}) and 4 on the example SMAPIv3 plugin ({@code simplefile}), holding {@code storm.vdis} VDIs (default
 * 500). Then {@code storm.callers} concurrent callers (default 16) run {@code VDI.attach3 + VDI.activate3} for
 * every VDI through the mux, then {@code VDI.deactivate + VDI.detach}, while one client long-polls
 * {@code UPDATES.get} as xapi does.
 *
 * <p>The ideal is measured in the same run: the daemon records every driver and plugin exec it made during each
 * phase ({@link ExecJournal}); those same execs (argv, environment, stdin) are then run again directly by a plain
 * pool of the same width, each VDI's execs in their order. The ratio is the daemon's wall time over the ideal's:
 * everything the daemon adds above the execs (switch hops, mux, state writes, locks, logging).
 *
 * <p>{@code -Dstorm.nmt=true}: the daemon runs with native memory tracking and a GC log; what each part of it
 * committed before and after the storm is printed, and its mappings (smaps) and GC log are kept in the run's
 * directory.
 */
public final class BootStormBench {
    static final Duration T = BenchDaemon.T;

    /** One phase's outcome, as the daemon ran it. */
    record Phase(String name, double seconds, long[] sortedNanos, long errors, List<String> firstErrors,
                 long journalFrom, long journalTo) {
    }

    /** A replay of one phase's execs. */
    record Replay(double seconds, int execs, int failed) {
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 3 && args[0].equals("--replay")) { // diagnosis: time a recorded journal's execs again
            Path j = Path.of(args[1]);
            Replay r = replay(j, new Phase("replay", 0, new long[0], 0, List.of(), 0, Files.size(j)), List.of(),
                    Integer.parseInt(args[2]));
            System.out.printf(Locale.ROOT, "%d execs (%d failed) in %.1f s%n", r.execs(), r.failed(), r.seconds());
            return;
        }
        int vdis = Integer.getInteger("storm.vdis", 500);
        int callers = Integer.getInteger("storm.callers", 16);
        Path root = repoRoot();
        Path dir = Files.createTempDirectory("bootstorm");
        Path journal = dir.resolve("exec.journal");
        boolean nmt = Boolean.getBoolean("storm.nmt");
        try (BenchDaemon daemon = BenchDaemon.start(root, dir, Map.of(ExecJournal.VARIABLE, journal.toString()),
                nmt ? List.of("-XX:NativeMemoryTracking=summary", "-Xlog:gc:file=" + dir.resolve("gc.log"))
                        : List.of())) {
            long pid = daemon.pid();
            try (SwitchRpcClient client = daemon.connect("bootstorm")) {
                StorageService mux = StorageClient.of(text -> client.callAsync(BenchDaemon.PREFIX, text, T));
                List<String> srs = new ArrayList<>();
                for (int i = 0; i < 8; i++) {
                    String[] t = i < 4 ? new String[] {"localfile", "location"} : new String[] {"simplefile", "path"};
                    String sr = UUID.randomUUID().toString();
                    Path d = dir.resolve("srs").resolve(sr);
                    Files.createDirectories(d);
                    BenchDaemon.register(client, sr, t[0]);
                    mux.sr().create("storm", sr, "storm " + t[0], "", Map.of(t[1], d.toString()), 0);
                    mux.sr().attach("storm", sr, Map.of(t[1], d.toString()));
                    srs.add(sr);
                }
                List<String[]> disks = createVdis(mux, srs, vdis, callers); // {sr, vdi}
                AtomicBoolean polling = new AtomicBoolean(true);
                AtomicLong updates = new AtomicLong();
                Thread poller = new Thread(() -> pollUpdates(mux, polling, updates), "updates-poller");
                poller.setDaemon(true);
                poller.start();
                long[] idleBefore = settledRss(pid);
                String nmtBefore = nmt ? NativeMemory.summary(pid) : "";
                if (nmt) { // the mappings behind the RSS, for a diagnosis the NMT table does not settle
                    Files.copy(Path.of("/proc/" + pid + "/smaps"), dir.resolve("smaps-before"));
                }
                ProcStats stats = ProcStats.sample(pid);
                Phase up = phase("attach3 + activate3", disks, callers, journal, (d, i) -> {
                    String dp = "vbd/storm/" + i;
                    mux.vdi().attach3("storm-" + i, dp, d[0], d[1], "vm-" + i, true);
                    mux.vdi().activate3("storm-" + i, dp, d[0], d[1], "vm-" + i);
                });
                Phase down = phase("deactivate + detach", disks, callers, journal, (d, i) -> {
                    String dp = "vbd/storm/" + i;
                    mux.vdi().deactivate("storm-" + i, dp, d[0], d[1], "vm-" + i);
                    mux.vdi().detach("storm-" + i, dp, d[0], d[1], "vm-" + i);
                });
                stats.stop();
                long[] idleAfter = settledRss(pid);
                if (nmt) {
                    System.err.print(NativeMemory.compare(nmtBefore, NativeMemory.summary(pid)));
                    Files.copy(Path.of("/proc/" + pid + "/smaps"), dir.resolve("smaps-after"));
                    System.err.println("mappings: " + dir.resolve("smaps-before") + ", " + dir.resolve("smaps-after"));
                }
                polling.set(false);
                // the same execs without the daemon, phase by phase, a VDI's execs in their order
                List<String> keys = disks.stream().map(d -> d[1]).toList();
                Replay upIdeal = replay(journal, up, keys, callers);
                Replay downIdeal = replay(journal, down, keys, callers);
                report(vdis, callers, List.of(up, down), List.of(upIdeal, downIdeal), stats, idleBefore, idleAfter,
                        updates.get());
                for (String sr : srs) {
                    mux.sr().detach("storm", sr);
                }
            }
        }
    }

    static Path repoRoot() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.isDirectory(p.resolve("examples/sm"))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new IllegalStateException("run from the repository (examples/sm not found above the cwd)");
        }
        return p;
    }

    /** Creates the VDIs (1 MiB each, spread over the SRs), {@code callers} at a time; not measured. */
    static List<String[]> createVdis(StorageService mux, List<String> srs, int n, int callers) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(callers);
        try {
            List<Future<String[]>> made = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                String sr = srs.get(i % srs.size());
                int k = i;
                made.add(pool.submit(() -> new String[] {sr, mux.vdi().create("storm", sr,
                        VdiInfo.defaults("", "storm " + k).withSizes(1 << 20, 0)).vdi()}));
            }
            List<String[]> out = new ArrayList<>();
            for (Future<String[]> f : made) {
                out.add(f.get());
            }
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    /** xapi's event loop: one long-poll after another, for the whole storm. */
    static void pollUpdates(StorageService mux, AtomicBoolean polling, AtomicLong updates) {
        String from = "";
        while (polling.get()) {
            try {
                var r = mux.updates().get("xapi", from, Optional.of(5)).get(60, TimeUnit.SECONDS);
                updates.addAndGet(r.ids().size());
                from = r.next();
            } catch (Exception e) {
                return;
            }
        }
    }

    interface VdiCall {
        void run(String[] disk, int index) throws Exception;
    }

    static Phase phase(String name, List<String[]> disks, int callers, Path journal, VdiCall call) throws Exception {
        long from = Files.size(journal);
        ConcurrentLinkedQueue<Long> nanos = new ConcurrentLinkedQueue<>();
        ConcurrentLinkedQueue<String> errors = new ConcurrentLinkedQueue<>();
        AtomicLong errorCount = new AtomicLong();
        AtomicInteger next = new AtomicInteger();
        List<Thread> threads = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int c = 0; c < callers; c++) {
            Thread th = new Thread(() -> {
                for (int i = next.getAndIncrement(); i < disks.size(); i = next.getAndIncrement()) {
                    long s = System.nanoTime();
                    try {
                        call.run(disks.get(i), i);
                    } catch (Exception | Error e) {
                        errorCount.incrementAndGet();
                        if (errors.size() < 5) {
                            errors.add(e.toString());
                        }
                    }
                    nanos.add(System.nanoTime() - s);
                }
            }, "storm-" + c);
            th.start();
            threads.add(th);
        }
        for (Thread t : threads) {
            t.join();
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        long[] sorted = nanos.stream().mapToLong(Long::longValue).sorted().toArray();
        return new Phase(name, secs, sorted, errorCount.get(), List.copyOf(errors), from, Files.size(journal));
    }

    /**
     * Runs the execs the daemon recorded during {@code phase} again, directly: grouped by the VDI they name (found
     * in their arguments, stdin or environment), each group's execs one after the other, {@code width} groups at
     * once.
     */
    static Replay replay(Path journal, Phase phase, List<String> vdiKeys, int width) throws Exception {
        byte[] bytes = new byte[(int) (phase.journalTo() - phase.journalFrom())];
        try (RandomAccessFile f = new RandomAccessFile(journal.toFile(), "r")) {
            f.seek(phase.journalFrom());
            f.readFully(bytes);
        }
        Map<String, List<ExecJournal.Entry>> groups = new LinkedHashMap<>();
        int execs = 0;
        for (String line : new String(bytes, StandardCharsets.US_ASCII).split("\n")) {
            if (line.isEmpty()) {
                continue;
            }
            ExecJournal.Entry e = ExecJournal.parse(line);
            String text = String.join(" ", e.argv()) + new String(e.stdin(), StandardCharsets.UTF_8)
                    + e.environment().values();
            String key = vdiKeys.stream().filter(text::contains).findFirst().orElse("exec-" + execs);
            groups.computeIfAbsent(key, k -> new ArrayList<>()).add(e);
            execs++;
        }
        System.err.printf(Locale.ROOT, "replaying %s: %d execs in %d groups%n", phase.name(), execs, groups.size());
        ExecutorService pool = Executors.newFixedThreadPool(width);
        AtomicInteger failed = new AtomicInteger();
        long t0 = System.nanoTime();
        try {
            List<Future<?>> done = new ArrayList<>();
            for (List<ExecJournal.Entry> g : groups.values()) {
                done.add(pool.submit(() -> {
                    for (ExecJournal.Entry e : g) {
                        if (run(e) != 0) {
                            failed.incrementAndGet();
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
        return new Replay((System.nanoTime() - t0) / 1e9, execs, failed.get());
    }

    /** One exec as a plain pool runs it: argv, environment, stdin in, output read to the end and dropped. */
    static int run(ExecJournal.Entry e) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(e.argv()).redirectErrorStream(true);
        pb.environment().clear();
        pb.environment().putAll(e.environment());
        e.workingDir().ifPresent(d -> pb.directory(d.toFile()));
        Process p = pb.start();
        try (OutputStream in = p.getOutputStream()) {
            in.write(e.stdin());
        }
        try (InputStream out = p.getInputStream()) {
            out.transferTo(OutputStream.nullOutputStream());
        }
        return p.waitFor();
    }

    /** Seconds of idleness after which {@link #settledRss} reads the daemon's RSS. */
    static final int[] SETTLE_SECONDS = {5, 30};

    /**
     * The daemon's RSS (kB) once it has been idle {@link #SETTLE_SECONDS} (what it keeps, not what is in flight): at
     * 5 s, and at 30 s, after pool threads idle since the burst have expired and the daemon trimmed its heap.
     */
    static long[] settledRss(long pid) throws InterruptedException {
        long[] out = new long[SETTLE_SECONDS.length];
        int waited = 0;
        for (int i = 0; i < out.length; i++) {
            Thread.sleep((SETTLE_SECONDS[i] - waited) * 1000L);
            waited = SETTLE_SECONDS[i];
            out[i] = ProcStats.field(pid, "VmRSS:");
            System.err.printf(Locale.ROOT, "idle %d s: RSS %d MiB (anonymous %d, file %d), %d threads%n", waited,
                    out[i] / 1024, ProcStats.field(pid, "RssAnon:") / 1024, ProcStats.field(pid, "RssFile:") / 1024,
                    ProcStats.field(pid, "Threads:"));
        }
        return out;
    }

    static double pct(long[] sorted, double p) {
        if (sorted.length == 0) {
            return 0;
        }
        int i = (int) Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100.0 * sorted.length) - 1));
        return sorted[i] / 1e6;
    }

    static void report(int vdis, int callers, List<Phase> phases, List<Replay> ideals, ProcStats stats,
                       long[] idleBefore, long[] idleAfter, long updates) {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "### Boot storm: %d VDIs on 8 SRs (4 localfile SMAPIv1, 4 simplefile "
                + "SMAPIv3), %d callers, UPDATES.get long-polled throughout%n%n", vdis, callers));
        b.append("Machine: ").append(Harness.machine()).append("; load average at the end (the storm's own ")
                .append(callers).append(" callers' execs make most of it): ").append(Harness.loadAverage())
                .append("\n\n");
        b.append("| phase | daemon wall | ideal wall (same execs, plain pool of ").append(callers)
                .append(") | ratio (target <= 1.15×) | execs | p50 per VDI | p99 per VDI | errors |\n");
        b.append("|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for (int i = 0; i < phases.size(); i++) {
            Phase p = phases.get(i);
            Replay r = ideals.get(i);
            b.append(String.format(Locale.ROOT, "| %s | %.1f s | %.1f s | %.2f× | %d%s | %.0f ms | %.0f ms | %d |%n",
                    p.name(), p.seconds(), r.seconds(), p.seconds() / r.seconds(), r.execs(),
                    r.failed() > 0 ? " (" + r.failed() + " failed in the replay)" : "", pct(p.sortedNanos(), 50),
                    pct(p.sortedNanos(), 99), p.errors()));
        }
        b.append('\n');
        b.append(String.format(Locale.ROOT, "Daemon: peak RSS %d MiB (target <= 256), peak threads %d; idle RSS "
                        + "%d MiB before the storm, %d MiB after (%+.0f%%), both %d s after the last call; %d s after "
                        + "(idle: the target's reading): %d and %d MiB (%+.0f%%, target within 10%%). Updates seen "
                        + "by the poller: %d.%n",
                stats.peakRssKb() / 1024, stats.peakThreads(), idleBefore[0] / 1024, idleAfter[0] / 1024,
                100.0 * (idleAfter[0] - idleBefore[0]) / Math.max(1, idleBefore[0]), SETTLE_SECONDS[0],
                SETTLE_SECONDS[1], idleBefore[1] / 1024, idleAfter[1] / 1024,
                100.0 * (idleAfter[1] - idleBefore[1]) / Math.max(1, idleBefore[1]), updates));
        Map<String, Integer> named = new LinkedHashMap<>();
        int single = 0;
        for (Map.Entry<String, Integer> e : stats.threadsAtPeak().entrySet()) {
            if (e.getValue() > 1) {
                named.put(e.getKey(), e.getValue());
            } else {
                single++;
            }
        }
        b.append("Threads at the peak, by name: ").append(named).append(" and ").append(single)
                .append(" single ones (JVM, timers, switch loops)\n");
        for (Phase p : phases) {
            p.firstErrors().forEach(e -> b.append("  error in ").append(p.name()).append(": ").append(e).append('\n'));
        }
        // issue 17's targets, judged from the figures above as printed (rounded)
        b.append("\nAgainst issue 17's targets: wall time <= 1.15× the ideal:");
        for (int i = 0; i < phases.size(); i++) {
            double ratio = phases.get(i).seconds() / ideals.get(i).seconds();
            b.append(String.format(Locale.ROOT, "%s %s %.2f× %s", i == 0 ? "" : ",", phases.get(i).name(), ratio,
                    Harness.atMost(ratio, 1.15)));
        }
        long errors = phases.stream().mapToLong(Phase::errors).sum();
        long peakMib = stats.peakRssKb() / 1024;
        long idleChange = Math.round(100.0 * (idleAfter[1] - idleBefore[1]) / Math.max(1, idleBefore[1]));
        b.append(String.format(Locale.ROOT, "; errors 0: %d %s; peak RSS <= 256 MiB: %d MiB %s; idle RSS after the "
                        + "storm within 10%% of before (" + SETTLE_SECONDS[1] + " s after the last call): %+d%% %s.%n", errors, Harness.verdict(errors == 0), peakMib,
                Harness.verdict(peakMib <= 256), idleChange, Harness.verdict(idleChange <= 10)));
        System.out.print(b);
    }

    /** Samples a process's VmHWM-independent peaks (RSS, threads) every 100 ms from /proc. */
    static final class ProcStats {
        private final long pid;
        private final Thread sampler;
        private volatile boolean running = true;
        private volatile long peakRssKb;
        private volatile long peakThreads;
        private volatile Map<String, Integer> threadsAtPeak = Map.of();

        private ProcStats(long pid) {
            this.pid = pid;
            this.sampler = new Thread(() -> {
                while (running) {
                    peakRssKb = Math.max(peakRssKb, field(pid, "VmRSS:"));
                    long threads = field(pid, "Threads:");
                    if (threads > peakThreads) {
                        peakThreads = threads;
                        threadsAtPeak = threadNames(pid);
                    }
                    try {
                        Thread.sleep(100);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "proc-sampler");
            sampler.setDaemon(true);
        }

        static ProcStats sample(long pid) {
            ProcStats s = new ProcStats(pid);
            s.sampler.start();
            return s;
        }

        void stop() throws InterruptedException {
            running = false;
            sampler.join();
        }

        long peakRssKb() {
            return peakRssKb;
        }

        long peakThreads() {
            return peakThreads;
        }

        /** The daemon's threads when their count peaked, by name without its number, most numerous first. */
        Map<String, Integer> threadsAtPeak() {
            return threadsAtPeak;
        }

        static Map<String, Integer> threadNames(long pid) {
            Map<String, Integer> byName = new java.util.TreeMap<>();
            try (var tasks = Files.list(Path.of("/proc/" + pid + "/task"))) {
                for (Path t : tasks.toList()) {
                    try {
                        // comm: the first 15 bytes of the Java thread's name
                        String name = Files.readString(t.resolve("comm")).trim().replaceAll("[-0-9]+$", "");
                        byName.merge(name, 1, Integer::sum);
                    } catch (IOException e) {
                        // the thread ended
                    }
                }
            } catch (IOException e) {
                // the process is gone
            }
            Map<String, Integer> sorted = new LinkedHashMap<>();
            byName.entrySet().stream().sorted(Map.Entry.<String, Integer>comparingByValue().reversed())
                    .forEach(e -> sorted.put(e.getKey(), e.getValue()));
            return sorted;
        }

        static long field(long pid, String name) {
            return BenchDaemon.procStatus(pid, name);
        }
    }
}
