package org.xenstorage.bench.smapiv1;

import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import org.xenstorage.bench.Harness;
import org.xenstorage.exec.ChildProcessRunner;
import org.xenstorage.exec.ExecRequest;
import org.xenstorage.idl.api.SrApi;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.api.VdiApi;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.FileInfo;
import org.xenstorage.idl.types.Implementation;
import org.xenstorage.smapiv1.wrapper.Wrapper;

/**
 * What the SMAPIv1 state wrapper adds to a state-changing SM call: the durable write-ahead intent and
 * the durable outcome (two atomic state-file writes), measured over an in-memory layer below so only the
 * wrapper is timed. The baseline is the cheapest possible driver exec, {@code python3 -c pass}, since
 * every real SM call is at least that. Also: the same lifecycle from 16 threads on distinct VDIs (group
 * commit shares writes), and a repeated attach (no SM call, no write). Prints a markdown table.
 */
public final class WrapperStateBench {
    private WrapperStateBench() {
    }

    public static void main(String[] args) throws Exception {
        Duration warmup = Duration.ofSeconds(args.length > 0 ? Integer.parseInt(args[0]) : 2);
        Duration each = Duration.ofSeconds(args.length > 1 ? Integer.parseInt(args[1]) : 2);
        Path dir = Files.createTempDirectory("wrapper-bench");
        Backend backend = new Backend(List.of(new Implementation.File(new FileInfo("/dev/null"))));
        Object noop = Proxy.newProxyInstance(WrapperStateBench.class.getClassLoader(),
                new Class<?>[]{SrApi.class, VdiApi.class},
                (p, m, a) -> m.getName().equals("attach3") ? backend : null);
        StorageService inner = new StorageService(null, null, (SrApi) noop, (VdiApi) noop, null, null, null, null,
                null, null);
        Wrapper wrapper = new Wrapper(inner, dir.resolve("storage.db"));
        StorageService s = wrapper.service();
        s.sr().attach("bench", "sr", Map.of());

        double exec;
        try (ChildProcessRunner runner = new ChildProcessRunner()) {
            ExecRequest pass = ExecRequest.of(List.of("python3", "-c", "pass"), Map.of("PATH", "/usr/bin:/bin"),
                    Duration.ofSeconds(30));
            exec = rate(() -> {
                try {
                    Harness.consume(runner.run(pass));
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }, warmup, each);
        }
        // one "op" = one state-changing SM call through the wrapper (a lifecycle is four)
        AtomicLong n = new AtomicLong();
        double single = 4 * rate(() -> lifecycle(s, "v", "dp" + n.incrementAndGet()), warmup, each);
        s.vdi().attach3("bench", "held", "sr", "w", "vm", true);
        double repeat = rate(() -> Harness.consume(s.vdi().attach3("bench", "held", "sr", "w", "vm", true)),
                warmup, each);
        int threads = 16;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        double parallel = 4 * threads * rate(() -> {
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                String vdi = "p" + t;
                fs.add(pool.submit(() -> lifecycle(s, vdi, "dp-" + vdi)));
            }
            for (Future<?> f : fs) {
                try {
                    f.get();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }
        }, warmup, each);
        pool.shutdownNow();

        System.out.println("### SMAPIv1 state wrapper (write-ahead + durable state per SM call)");
        System.out.println();
        System.out.println("Machine: " + Harness.machine() + "; state file on " + dir);
        System.out.println();
        System.out.println("| measurement | ops/s | ms per op | ratio to `python3 -c pass` exec time |");
        System.out.println("|---|---:|---:|---:|");
        row("baseline: exec `python3 -c pass`", exec, exec);
        row("state-changing SM call via the wrapper, 1 thread (2 fsync'd writes)", single, exec);
        row("state-changing SM call via the wrapper, 16 threads on distinct VDIs", parallel, exec);
        row("repeated attach3 (no SM call, no write)", repeat, exec);
        System.out.println();
        System.out.println("No issue sets a target for this table; it shows where a call's time goes.");
    }

    private static void lifecycle(StorageService s, String vdi, String dp) {
        s.vdi().attach3("bench", dp, "sr", vdi, "vm", true);
        s.vdi().activate3("bench", dp, "sr", vdi, "vm");
        s.vdi().deactivate("bench", dp, "sr", vdi, "vm");
        s.vdi().detach("bench", dp, "sr", vdi, "vm");
    }

    /** Harness.opsPerSecond runs 64 ops per check; slow ops make that coarse but the median holds. */
    private static double rate(Runnable op, Duration warmup, Duration each) {
        return Harness.opsPerSecond(op, warmup, each, 3);
    }

    private static void row(String what, double opsPerSecond, double execOpsPerSecond) {
        System.out.printf(Locale.ROOT, "| %s | %.0f | %.3f | %.3f |%n", what, opsPerSecond, 1000.0 / opsPerSecond,
                execOpsPerSecond / opsPerSecond);
    }
}
