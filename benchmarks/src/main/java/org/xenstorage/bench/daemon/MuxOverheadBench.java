package org.xenstorage.bench.daemon;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import org.xenstorage.bench.Harness;
import org.xenstorage.daemon.config.ConfigLoader;
import org.xenstorage.daemon.config.DaemonConfig;
import org.xenstorage.daemon.service.DaemonRuntime;
import org.xenstorage.daemon.service.LogSetup;
import org.xenstorage.daemon.service.SdNotify;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.api.QueryApi;
import org.xenstorage.idl.api.VdiApi;
import org.xenstorage.idl.types.QueryResult;
import org.xenstorage.idl.types.SmapiVersion;
import org.xenstorage.idl.rpc.StorageDispatcher;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.messageswitch.broker.EmbeddedSwitch;
import org.xenstorage.messageswitch.client.SwitchAddress;
import org.xenstorage.messageswitch.client.SwitchQueueServer;
import org.xenstorage.messageswitch.client.SwitchRpcClient;

/**
 * Mux overhead: the same in-memory {@code VDI.stat} sent straight to a backend queue, and sent to the mux
 * queue (which forwards it to that backend queue: one more switch round trip; for a backend in the daemon's
 * own JVM, a direct call instead). Everything runs over the
 * real embedded broker on a Unix socket, the mux is the daemon's own runtime. A second pair adds 1 ms of
 * backend work per call, a floor far below a real driver exec, to show the overhead against real work.
 */
public final class MuxOverheadBench {
    static final String PREFIX = "bench.storage";

    /** A backend whose VDI.stat answers from memory, optionally after {@code workMillis}. */
    static StorageService backend(long workMillis) {
        VdiInfo info = VdiInfo.defaults("vdi-1", "bench disk");
        QueryResult query = new QueryResult("bench", "bench", "in-memory", "none", "none", "1", "2.0", List.of(),
                Map.of(), List.of(), List.of(), SmapiVersion.SMAPIv3);
        Object impl = java.lang.reflect.Proxy.newProxyInstance(VdiApi.class.getClassLoader(),
                new Class<?>[] {VdiApi.class, QueryApi.class}, (self, m, args) -> {
                    if (m.getDeclaringClass() == QueryApi.class && m.getName().equals("query")) {
                        return query;
                    }
                    if (m.getName().equals("stat")) {
                        if (workMillis > 0) {
                            Thread.sleep(workMillis);
                        }
                        return info;
                    }
                    throw new UnsupportedOperationException(m.getName());
                });
        return StorageService.of(impl);
    }

    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("muxbench");
        Path sock = dir.resolve("switch.sock");
        try (EmbeddedSwitch sw = EmbeddedSwitch.start(Optional.of(sock), Optional.empty(), dir.resolve("switch"))) {
            SwitchAddress address = SwitchAddress.unix(sock);
            StorageDispatcher fast = new StorageDispatcher(backend(0));
            StorageDispatcher slow = new StorageDispatcher(backend(1));
            // a backend living in the daemon's JVM (as the SMAPIv1 wrapper and SMAPIv3 bridge do): served on the
            // switch for other callers...
            StorageDispatcher inJvm = new StorageDispatcher(backend(0));
            SwitchQueueServer jvmServer = SwitchQueueServer.start(address, PREFIX + ".jvm", 256, inJvm::dispatch);
            SwitchQueueServer memServer = SwitchQueueServer.start(address, PREFIX + ".mem", 256, fast::dispatch);
            SwitchQueueServer slowServer = SwitchQueueServer.start(address, PREFIX + ".slow", 256,
                    r -> java.util.concurrent.CompletableFuture.supplyAsync(() -> slow.dispatch(r).join()));
            DaemonConfig config = ConfigLoader.load(new String[] {"--mode=host", "--switch-path=" + sock,
                    "--state-dir=" + dir.resolve("state"), "--run-dir=" + dir.resolve("run"), "--smapiv1=false",
                    "--smapiv3=false",
                    "--queue-prefix=" + PREFIX, "--log-level=WARN"});
            LogSetup.apply(config);
            DaemonRuntime mux = DaemonRuntime.start(config, SdNotify.fromEnvironment(Map.<String, String>of()));
            // and registered for the mux's in-process fast path (its switch queue started before the runtime, with
            // the others, so the mux's first listing sees it live)
            mux.inProcessQueues().register(PREFIX + ".jvm", 256, inJvm::dispatch);
            try (SwitchRpcClient client = SwitchRpcClient.connect(address, "bench")) {
                Duration t = Duration.ofSeconds(30);
                for (String[] reg : new String[][] {{"sr-mem", "mem"}, {"sr-slow", "slow"}, {"sr-jvm", "jvm"}}) {
                    String reply = client.call(PREFIX, "{\"method\":\"Registry.register\",\"params\":[{\"dbg\":\"b\","
                            + "\"sr\":\"" + reg[0] + "\",\"sr_type\":\"" + reg[1] + "\"}],\"id\":1}", t);
                    if (!reply.contains("\"error\":null")) {
                        throw new IllegalStateException("registration failed: " + reply);
                    }
                }
                String memCall = "{\"method\":\"VDI.stat\",\"params\":[{\"vdi\":\"vdi-1\",\"sr\":\"sr-mem\",\"dbg\":\"b\"}],\"id\":1}";
                String slowCall = "{\"method\":\"VDI.stat\",\"params\":[{\"vdi\":\"vdi-1\",\"sr\":\"sr-slow\",\"dbg\":\"b\"}],\"id\":1}";
                String jvmCall = memCall.replace("sr-mem", "sr-jvm");
                check(client.call(PREFIX + ".mem", memCall, t));
                check(client.call(PREFIX, memCall, t));
                check(client.call(PREFIX, jvmCall, t));

                Duration warm = Duration.ofSeconds(2);
                Duration each = Duration.ofSeconds(2);
                double direct = Harness.opsPerSecond(() -> Harness.consume(client.call(PREFIX + ".mem", memCall, t)),
                        warm, each, 5);
                double viaMux = Harness.opsPerSecond(() -> Harness.consume(client.call(PREFIX, memCall, t)),
                        warm, each, 5);
                double directPar = concurrent(client, PREFIX + ".mem", memCall, 16, warm, each);
                double viaMuxPar = concurrent(client, PREFIX, memCall, 16, warm, each);
                double jvmDirect = Harness.opsPerSecond(() -> Harness.consume(client.call(PREFIX + ".jvm", jvmCall, t)),
                        warm, each, 5);
                double jvmMux = Harness.opsPerSecond(() -> Harness.consume(client.call(PREFIX, jvmCall, t)),
                        warm, each, 5);
                double jvmDirectPar = concurrent(client, PREFIX + ".jvm", jvmCall, 16, warm, each);
                double jvmMuxPar = concurrent(client, PREFIX, jvmCall, 16, warm, each);
                double slowDirect = Harness.opsPerSecond(() -> Harness.consume(client.call(PREFIX + ".slow", slowCall, t)),
                        warm, each, 3);
                double slowMux = Harness.opsPerSecond(() -> Harness.consume(client.call(PREFIX, slowCall, t)),
                        warm, each, 3);

                System.out.println("### Mux overhead (VDI.stat over the embedded message-switch)");
                System.out.println();
                System.out.println("Machine: " + Harness.machine());
                System.out.println();
                System.out.println("| measurement | direct to backend queue | through the mux | mux cost (time ratio) "
                        + "| target |");
                System.out.println("|---|---:|---:|---:|---|");
                // issue 4's target for a backend in another process (a second switch round trip), issue 17's for a
                // backend in the daemon's JVM (no second hop); the 1 ms row shows the cost against real work
                row("in-memory call, 1 caller", direct, viaMux, 1.3, "issue 4");
                row("in-memory call, 16 callers", directPar, viaMuxPar, 1.3, "issue 4");
                row("1 ms of backend work, 1 caller", slowDirect, slowMux, 0, "");
                row("backend in the daemon's JVM (in-process fast path), in-memory call, 1 caller", jvmDirect, jvmMux,
                        1.1, "issue 17");
                row("backend in the daemon's JVM (in-process fast path), in-memory call, 16 callers", jvmDirectPar,
                        jvmMuxPar, 1.1, "issue 17");
                System.out.println();
                System.out.printf(Locale.ROOT, "Added latency per call through the mux (1 caller): %.0f µs.%n",
                        (1e6 / viaMux) - (1e6 / direct));
            } finally {
                mux.shutdown();
                jvmServer.close();
                memServer.close();
                slowServer.close();
            }
        }
    }

    static void check(String reply) {
        if (!reply.contains("\"error\":null")) {
            throw new IllegalStateException("unexpected reply: " + reply);
        }
    }

    /** One table row; {@code target} is the highest time ratio the issue allows (0: no target for this row). */
    static void row(String name, double direct, double viaMux, double target, String issue) {
        double ratio = direct / viaMux;
        String verdict = target > 0
                ? String.format(Locale.ROOT, "<= %.1f× (%s): %s", target, issue, Harness.atMost(ratio, target))
                : "none (the cost against real work)";
        System.out.printf(Locale.ROOT, "| %s | %,.0f calls/s | %,.0f calls/s | %.2f× | %s |%n", name, direct, viaMux,
                ratio, verdict);
    }

    /** Calls per second with {@code callers} threads calling in a loop (median of 3 runs). */
    static double concurrent(SwitchRpcClient client, String queue, String call, int callers, Duration warm,
                             Duration each) throws InterruptedException {
        run(client, queue, call, callers, warm);
        double[] r = new double[3];
        for (int i = 0; i < r.length; i++) {
            r[i] = run(client, queue, call, callers, each);
        }
        java.util.Arrays.sort(r);
        return r[1];
    }

    static double run(SwitchRpcClient client, String queue, String call, int callers, Duration d)
            throws InterruptedException {
        LongAdder done = new LongAdder();
        AtomicBoolean stop = new AtomicBoolean();
        CountDownLatch finished = new CountDownLatch(callers);
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < callers; i++) {
            Thread th = new Thread(() -> {
                try {
                    while (!stop.get()) {
                        Harness.consume(client.call(queue, call, Duration.ofSeconds(30)));
                        done.increment();
                    }
                } finally {
                    finished.countDown();
                }
            });
            th.setDaemon(true);
            threads.add(th);
        }
        long t0 = System.nanoTime();
        threads.forEach(Thread::start);
        Thread.sleep(d.toMillis());
        stop.set(true);
        finished.await();
        return done.sum() / ((System.nanoTime() - t0) / 1e9);
    }
}
