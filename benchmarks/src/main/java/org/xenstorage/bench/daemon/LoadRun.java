package org.xenstorage.bench.daemon;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.rpc.StorageClient;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.messageswitch.client.SwitchAddress;
import org.xenstorage.messageswitch.client.SwitchRpcClient;

/**
 * Issue 8 load command (not a benchmark, not run in CI; {@code scripts/load}): a real storage-daemon
 * process in embedded mode serving the example SMAPIv1 driver ({@code localfile}) and SMAPIv3 plugin
 * ({@code simplefile}); 2 SRs of each; N concurrent clients (default 32) loop over SR.stat, SR.scan,
 * VDI.create/attach3/activate3/deactivate/detach/destroy, DP.destroy, TASK.list and UPDATES.get through
 * the mux queue for a set duration (default 10 minutes). At the end: calls per type, errors (must be 0),
 * latency percentiles and the daemon's RSS (VmRSS from /proc, sampled every 5 s). Exit status 1 on any
 * error.
 *
 * <p>Arguments: {@code --minutes N} (decimal), {@code --clients N}, {@code --root DIR} (the repository).
 */
public final class LoadRun {
    static final String PREFIX = "org.xen.xapi.storage";
    static final Duration T = Duration.ofSeconds(300);

    static final Map<String, ConcurrentLinkedQueue<Long>> LATENCIES = new ConcurrentHashMap<>();
    static final AtomicLong ERRORS = new AtomicLong();
    static final ConcurrentLinkedQueue<String> FIRST_ERRORS = new ConcurrentLinkedQueue<>();

    interface Call<T> {
        T run() throws Exception;
    }

    static <T> T timed(String name, Call<T> call) {
        long t0 = System.nanoTime();
        try {
            T r = call.run();
            LATENCIES.computeIfAbsent(name, k -> new ConcurrentLinkedQueue<>()).add(System.nanoTime() - t0);
            return r;
        } catch (Exception | Error e) {
            ERRORS.incrementAndGet();
            LATENCIES.computeIfAbsent(name, k -> new ConcurrentLinkedQueue<>()).add(System.nanoTime() - t0);
            if (FIRST_ERRORS.size() < 20) {
                FIRST_ERRORS.add(name + ": " + e);
            }
            return null;
        }
    }

    static long rssKb(long pid) {
        return BenchDaemon.procStatus(pid, "VmRSS:");
    }

    public static void main(String[] args) throws Exception {
        double minutes = 10;
        int clients = 32;
        Path root = Path.of("").toAbsolutePath();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--minutes" -> minutes = Double.parseDouble(args[++i]);
                case "--clients" -> clients = Integer.parseInt(args[++i]);
                case "--root" -> root = Path.of(args[++i]).toAbsolutePath();
                default -> throw new IllegalArgumentException("usage: LoadRun [--minutes N] [--clients N] [--root DIR], not "
                        + Arrays.toString(args));
            }
        }
        Path dir = Files.createTempDirectory("loadrun");
        BenchDaemon daemon = BenchDaemon.start(root, dir, Map.of());
        long pid = daemon.pid();
        List<long[]> rss = new ArrayList<>(); // {seconds since start, kB}
        try {
            try (SwitchRpcClient client = daemon.connect("load")) {
                StorageService mux = StorageClient.of(text -> client.callAsync(PREFIX, text, T));
                List<String> srs = new ArrayList<>();
                for (String[] t : new String[][] {{"localfile", "location"}, {"localfile", "location"},
                        {"simplefile", "path"}, {"simplefile", "path"}}) {
                    String sr = UUID.randomUUID().toString();
                    Path d = dir.resolve("srs").resolve(sr);
                    Files.createDirectories(d);
                    BenchDaemon.register(client, sr, t[0]);
                    mux.sr().create("load", sr, "load " + t[0], "", Map.of(t[1], d.toString()), 0);
                    mux.sr().attach("load", sr, Map.of(t[1], d.toString()));
                    srs.add(sr);
                }
                long rss0 = rssKb(pid);
                rss.add(new long[] {0, rss0});
                long deadline = System.nanoTime() + (long) (minutes * 60e9);
                long t0 = System.nanoTime();
                List<Thread> threads = new ArrayList<>();
                for (int c = 0; c < clients; c++) {
                    final int id = c;
                    Thread th = new Thread(() -> {
                        int n = 0;
                        while (System.nanoTime() < deadline) {
                            String sr = srs.get((id + n) % srs.size());
                            cycle(mux, sr, "c" + id + "-" + n);
                            n++;
                        }
                    }, "client-" + c);
                    th.start();
                    threads.add(th);
                }
                while (threads.stream().anyMatch(Thread::isAlive)) {
                    Thread.sleep(5000);
                    rss.add(new long[] {(System.nanoTime() - t0) / 1_000_000_000L, rssKb(pid)});
                    if (!daemon.process.isAlive()) {
                        ERRORS.incrementAndGet();
                        FIRST_ERRORS.add("the daemon died:\n" + Files.readString(daemon.log));
                        break;
                    }
                }
                for (Thread t : threads) {
                    t.join(600_000);
                }
                double secs = (System.nanoTime() - t0) / 1e9;
                rss.add(new long[] {Math.round(secs), rssKb(pid)});
                for (String sr : srs) {
                    timed("SR.detach", () -> {
                        mux.sr().detach("load", sr);
                        return null;
                    });
                }
                report(clients, secs, rss);
            }
        } finally {
            daemon.close();
        }
        System.exit(ERRORS.get() == 0 ? 0 : 1);
    }

    /** One client's cycle on one SR; half the cycles tear down with DP.destroy instead of deactivate+detach. */
    static void cycle(StorageService mux, String sr, String tag) {
        timed("SR.stat", () -> mux.sr().stat("load", sr));
        VdiInfo v = timed("VDI.create", () -> mux.vdi().create("load", sr, VdiInfo.defaults("", "load " + tag)
                .withSizes(1 << 20, 0)));
        if (v == null) {
            return;
        }
        String dp = "vbd/load/" + tag;
        timed("VDI.attach3", () -> mux.vdi().attach3("load", dp, sr, v.vdi(), "vm-load", true));
        timed("VDI.activate3", () -> {
            mux.vdi().activate3("load", dp, sr, v.vdi(), "vm-load");
            return null;
        });
        timed("SR.scan", () -> mux.sr().scan("load", sr));
        if (tag.hashCode() % 2 == 0) {
            timed("VDI.deactivate", () -> {
                mux.vdi().deactivate("load", dp, sr, v.vdi(), "vm-load");
                return null;
            });
            timed("VDI.detach", () -> {
                mux.vdi().detach("load", dp, sr, v.vdi(), "vm-load");
                return null;
            });
        } else {
            timed("DP.destroy", () -> {
                mux.dp().destroy("load", dp, false);
                return null;
            });
        }
        timed("VDI.destroy", () -> {
            mux.vdi().destroy("load", sr, v.vdi());
            return null;
        });
        timed("TASK.list", () -> mux.task().list("load"));
        timed("UPDATES.get", () -> mux.updates().get("load", "", Optional.of(0)).get(300, TimeUnit.SECONDS));
    }

    static double pct(long[] sorted, double p) {
        if (sorted.length == 0) {
            return 0;
        }
        int i = (int) Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100.0 * sorted.length) - 1));
        return sorted[i] / 1e6;
    }

    static void report(int clients, double secs, List<long[]> rss) {
        long total = 0;
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "## Load run: %d clients, %.1f s, 2 localfile + 2 simplefile SRs%n%n",
                clients, secs));
        b.append("| call | count | p50 ms | p90 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|---:|\n");
        for (var e : new TreeMap<>(LATENCIES).entrySet()) {
            long[] l = e.getValue().stream().mapToLong(Long::longValue).sorted().toArray();
            total += l.length;
            b.append(String.format(Locale.ROOT, "| %s | %d | %.1f | %.1f | %.1f | %.1f |%n", e.getKey(), l.length,
                    pct(l, 50), pct(l, 90), pct(l, 99), pct(l, 100)));
        }
        b.append(String.format(Locale.ROOT, "%nTotal calls: %d (%.1f/s). Errors: %d.%n", total, total / secs, ERRORS.get()));
        FIRST_ERRORS.forEach(e -> b.append("  error: ").append(e).append('\n'));
        long max = rss.stream().mapToLong(r -> r[1]).max().orElse(-1);
        b.append(String.format(Locale.ROOT, "%nDaemon RSS (VmRSS): start %d MiB, max %d MiB, end %d MiB%n",
                rss.get(0)[1] / 1024, max / 1024, rss.get(rss.size() - 1)[1] / 1024));
        StringBuilder series = new StringBuilder();
        int step = Math.max(1, rss.size() / 20);
        for (int i = 0; i < rss.size(); i += step) {
            series.append(rss.get(i)[0]).append("s=").append(rss.get(i)[1] / 1024).append("MiB ");
        }
        b.append("RSS over time: ").append(series.toString().trim()).append('\n');
        System.out.print(b);
    }
}
