package org.xenstorage.daemon.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.LocalTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.daemon.routing.RecordingBackend;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.rpc.JsonRpc;
import org.xenstorage.idl.rpc.StorageClient;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.idl.wire.WireCodec;
import org.xenstorage.messageswitch.client.SwitchAddress;
import org.xenstorage.messageswitch.client.SwitchQueueServer;
import org.xenstorage.messageswitch.client.SwitchRpcClient;
import org.xenstorage.testing.Soon;

/**
 * Issue 13, fault isolation: a fault on some SRs does not slow the calls on the others. One real daemon process
 * (embedded broker, the example SMAPIv1 driver and SMAPIv3 plugins, plus the test driver {@code MisbehaveSR} and a
 * misbehaving volume plugin {@code sickfile} this test writes) serves 32 healthy clients, 4 on each of 4
 * {@code localfile} and 4 {@code simplefile} SRs, each looping SR.stat, VDI.create, VDI.attach3, VDI.activate3,
 * VDI.deactivate, VDI.detach, VDI.destroy (and now and then the SR.list fan-out) through the mux queue with a
 * random think time, while a prober calls {@code Query.query} on the mux every 100 ms.
 *
 * <p>After a warm-up, each round is a baseline phase (no fault) and a faulty phase (in ABBA order: baseline first
 * in odd rounds, so that a drift over the run weighs on both sides alike); a faulty phase has, all at once:
 * <ul>
 *   <li>a <b>dead backend</b>: a queue server that answered {@code Query.query} on {@code <prefix>.ghost<r>}, with
 *       an SR registered to it, is gone; a careless caller calls SR.stat / VDI.attach3 on that SR every 20 ms and
 *       must get {@code No_storage_plugin_for_sr} each time, at once (not after a timeout);</li>
 *   <li>a <b>hung driver</b>: on an SR of {@code MisbehaveSR} ({@code behave=hang_scan}) 33 SR.scan calls are sent:
 *       one hangs in the driver, 32 wait behind it for the SR, and all 33 are still pending at the end of the
 *       phase;</li>
 *   <li>a <b>misbehaving plugin</b>: on one {@code sickfile} SR 32 SR.stat calls hang in (or wait for) its script;
 *       on another, a call every 500 ms gets non-JSON output (Volume.create) or an exit status 1 with only stderr
 *       (SR.ls), and must come back as a storage error.</li>
 * </ul>
 * Each phase ends when the healthy clients have completed N calls (count-based, so a slow machine gets the same
 * sample); the calls in flight then finish before anything changes, and only calls started inside a phase count.
 * At the end of a faulty phase the hung calls are released and must all complete.
 *
 * <p>Always asserted: every healthy call succeeded; the faults were in effect (the hung calls pending at the end
 * of the phase, the dead-SR and sick calls answered with storage errors within {@link Soon#timeout()}, where a
 * call left to the dead queue would wait for the 6-hour call timeout); everything completes after the release;
 * the daemon is alive. Asserted only with timing asserts on (the default at full size, run from
 * {@code scripts/reliability} on a quiet machine; {@code -Dreliability.isolation.timing=true|false} forces):
 * the healthy p99 of the faulty phases is at most 1.2 times the baselines' (same run), and every
 * {@code Query.query} of the faulty phases took under 50 ms. CI (under stress-ng) prints them only.
 *
 * <p>Sizes: CI 1 round of 80 calls per phase (warm-up 48); {@code -Dreliability.full=true} 4 rounds of 1,500 (400).
 * {@code -Dreliability.isolation.rounds=R}, {@code .calls=N}, {@code .warmup=W}; the careless caller's pauses
 * {@code .dead-pause=MS} (20) and {@code .sick-pause=MS} (500). The think time is calibrated
 * after the warm-up so that the daemon and its scripts use about half the machine's cores
 * ({@code -Dreliability.isolation.cpu=0.5}), or set with {@code -Dreliability.isolation.think=MS} (mean).
 */
class FaultIsolationIT {
    static final String PREFIX = "org.xen.xapi.storage";
    static final String DBG = "fault-isolation";
    static final boolean FULL = Boolean.getBoolean("reliability.full");
    static final int ROUNDS = Integer.getInteger("reliability.isolation.rounds", FULL ? 4 : 1);
    static final int CALLS = Integer.getInteger("reliability.isolation.calls", FULL ? 1500 : 80);
    static final int WARMUP = Integer.getInteger("reliability.isolation.warmup", FULL ? 400 : 48);
    static final boolean TIMING = Boolean.parseBoolean(
            System.getProperty("reliability.isolation.timing", Boolean.toString(FULL)));
    static final double CPU_SHARE = Double.parseDouble(System.getProperty("reliability.isolation.cpu", "0.5"));
    static final Long THINK_MS = Long.getLong("reliability.isolation.think");
    /** The careless caller's pause between two calls on the dead backend's SR, and on the sick plugin's. */
    static final long DEAD_PAUSE_MS = Long.getLong("reliability.isolation.dead-pause", 20);
    static final long SICK_PAUSE_MS = Long.getLong("reliability.isolation.sick-pause", 500);
    /**
     * The daemon's JVM options when timing is asserted: the systemd unit's ({@code scripts/xapi-storage-daemon.service}),
     * so that the figures are the product's; otherwise the tests' quick-start options ({@link DaemonProcess#jvmOptions}).
     * {@code -Dit.daemon.jvm=...} overrides both (e.g. to add a GC log).
     */
    static final List<String> DAEMON_JVM = TIMING && System.getProperty("it.daemon.jvm") == null
            ? List.of("-Xmx512m") : DaemonProcess.jvmOptions();
    static final double MAX_P99_RATIO = 1.2;
    static final double MAX_QUERY_MS = 50;

    static final int CLIENTS = 32;
    static final int SRS_PER_TYPE = 4;
    /** SR.scan calls queued behind the one hung in MisbehaveSR. */
    static final int QUEUED = 32;
    /** SR.stat calls sent to the sick plugin's hung SR. */
    static final int SICK_HUNG = 32;
    /** A healthy call, a setup call: the mux's call timeout is far longer, so a stuck call fails here. */
    static final Duration T = Soon.times(2);
    /** Hung calls must outlive any phase; the daemon's call, driver and script timeouts are as long. */
    static final Duration HOURS = Duration.ofHours(6);
    static final long TICKS_PER_SECOND = 100; // USER_HZ of /proc/<pid>/stat on Linux

    @TempDir
    Path dir;

    DaemonProcess daemon;
    SwitchAddress address;
    /** The healthy clients' link (xapi's, so to speak), the prober's, and the careless caller's (also setup). */
    SwitchRpcClient healthyLink;
    SwitchRpcClient proberLink;
    SwitchRpcClient carelessLink;
    StorageService careless;
    final List<Sr> healthy = new ArrayList<>();
    final List<Thread> threads = new ArrayList<>();
    final List<Faults> faults = new ArrayList<>();

    volatile boolean running = true;
    volatile Phase current;
    volatile long thinkMs = 3000;
    final AtomicReference<AssertionError> failure = new AtomicReference<>();
    final Careless carelessStats = new Careless();

    record Sr(String id, String type) {
    }

    /** Latencies by call, thread-safe. */
    static final class Latencies {
        private final Map<String, List<Long>> byCall = new TreeMap<>();

        synchronized void add(String call, long nanos) {
            byCall.computeIfAbsent(call, k -> new ArrayList<>()).add(nanos);
        }

        synchronized long[] all() {
            return byCall.values().stream().flatMap(List::stream).mapToLong(Long::longValue).sorted().toArray();
        }

        synchronized Map<String, long[]> each() {
            Map<String, long[]> out = new TreeMap<>();
            byCall.forEach((k, v) -> out.put(k, v.stream().mapToLong(Long::longValue).sorted().toArray()));
            return out;
        }

        static Latencies merge(List<Phase> phases, boolean query) {
            Latencies out = new Latencies();
            for (Phase p : phases) {
                (query ? p.query : p.healthy).each().forEach((call, l) -> Arrays.stream(l).forEach(n -> out.add(call, n)));
            }
            return out;
        }
    }

    /** One measured stretch of the run: the calls started in it, all finished before it is read. */
    static final class Phase {
        final String name;
        final boolean faulty;
        final Latencies healthy = new Latencies();
        final Latencies query = new Latencies();
        /** When the slow {@code Query.query} calls started (wall clock, to set beside a GC log) and how long. */
        final List<String> slowQueries = Collections.synchronizedList(new ArrayList<>());
        final AtomicInteger done = new AtomicInteger();
        final AtomicInteger inFlight = new AtomicInteger();
        long startNanos;
        long endNanos;
        long cpuTicks;

        Phase(String name, boolean faulty) {
            this.name = name;
            this.faulty = faulty;
        }

        double seconds() {
            return (endNanos - startNanos) / 1e9;
        }

        double cores() {
            return cpuTicks / (double) TICKS_PER_SECOND / seconds();
        }
    }

    /** What the careless caller saw, over all faulty phases. */
    static final class Careless {
        final AtomicInteger deadCalls = new AtomicInteger();
        final AtomicLong deadMaxNanos = new AtomicLong();
        final Map<String, Integer> deadErrors = new ConcurrentHashMap<>();
        final AtomicInteger sickCalls = new AtomicInteger();
        final AtomicLong sickMaxNanos = new AtomicLong();
        final Map<String, Integer> sickErrors = new ConcurrentHashMap<>();
        int hungRunning = -1;
        int hungQueued = -1;
        int sickRunning = -1;
        int sickPending = -1;
    }

    /** The healthy call failed: the test fails with it. */
    static final class Stop extends RuntimeException {
        Stop() {
            super(null, null, false, false);
        }
    }

    @Test
    void faultsOnSomeSrsDoNotSlowTheOthersNorQueryQuery() throws Exception {
        String loadBefore = loadAverage();
        try {
            startDaemon();
            createHealthySrs();
            startLoad();
            Phase warmUp = runPhase(new Phase("warm-up", false), WARMUP);
            calibrate(warmUp);
            List<Phase> baselines = new ArrayList<>();
            List<Phase> faulties = new ArrayList<>();
            for (int round = 1; round <= ROUNDS; round++) {
                // ABBA order (baseline first in odd rounds): a drift over the run weighs on both sides alike
                Phase baseline = round % 2 == 1 ? baselinePhase(round) : null;
                Phase faulty = faultyPhase(round);
                baseline = baseline != null ? baseline : baselinePhase(round);
                baselines.add(baseline);
                faulties.add(faulty);
                System.out.printf(Locale.ROOT, "fault-isolation round %d: healthy p99 baseline=%s faulty=%s ms, "
                        + "ratio %.2f%n", round, ms(pct(baseline.healthy.all(), 99)), ms(pct(faulty.healthy.all(), 99)),
                        pct(faulty.healthy.all(), 99) / pct(baseline.healthy.all(), 99));
            }
            assertNoFailure();
            summarize(baselines, faulties, loadBefore);
        } finally {
            cleanUp();
        }
    }

    Phase baselinePhase(int round) throws InterruptedException {
        return report(runPhase(new Phase("baseline-" + round, false), CALLS));
    }

    /** Sets the faults up, measures, checks they were in effect, releases them and checks everything completed. */
    Phase faultyPhase(int round) throws Exception {
        Faults f = new Faults(round);
        faults.add(f);
        f.setUp();
        Phase faulty = report(runPhase(new Phase("faulty-" + round, true), CALLS));
        f.stopCarelessCalls();
        f.assertInEffect();
        f.release();
        f.assertCompletedAndRemove();
        daemon.assertAlive();
        return faulty;
    }

    // ------------------------------------------------------------------------------------------------ set-up

    void startDaemon() throws Exception {
        Path conf = dir.resolve("conf");
        Path smDir = conf.resolve("sm");
        Path pluginRoot = conf.resolve("plugins");
        Files.createDirectories(conf);
        BadInputIT.cp(EmbeddedModeIT.repoRoot().resolve("examples/sm"), smDir);
        BadInputIT.cp(EmbeddedModeIT.repoRoot().resolve("examples/smapiv3"), pluginRoot);
        Path misbehave = smDir.resolve("MisbehaveSR");
        Files.copy(EmbeddedModeIT.repoRoot().resolve("smapiv1-wrapper/src/test/resources/drivers/MisbehaveSR"), misbehave);
        Files.setPosixFilePermissions(misbehave, PosixFilePermissions.fromString("rwxr-xr-x"));
        SickPlugin.write(pluginRoot.resolve("volume/org.xen.xapi.storage.sickfile"));
        Path state = dir.resolve("var");
        String forever = HOURS.toSeconds() + "s";
        daemon = DaemonProcess.start(DAEMON_JVM, dir.resolve("daemon.log"), Map.of(), "--state-dir=" + state,
                "--plugin-root=" + pluginRoot, "--sm-dir=" + smDir, "--log-level=WARN", "--call-timeout=" + forever,
                "--driver-timeout=" + forever, "--script-timeout=" + forever);
        Path sock = state.resolve("message-switch.sock");
        address = SwitchAddress.unix(sock);
        carelessLink = daemon.connect(sock, "fi-careless");
        healthyLink = daemon.connect(sock, "fi-healthy");
        proberLink = daemon.connect(sock, "fi-prober");
        for (SwitchRpcClient link : List.of(carelessLink, healthyLink, proberLink)) {
            daemon.awaitServing(link, PREFIX);
        }
        careless = StorageClient.of(text -> carelessLink.callAsync(PREFIX, text, Soon.timeout()));
        daemon.awaitStarted("the four backend types are live", () -> {
            String types = admin("Registry.types").toString();
            return List.of("localfile", "simplefile", "misbehave", "sickfile").stream().allMatch(types::contains);
        });
    }

    void createHealthySrs() throws Exception {
        StorageService setup = StorageClient.of(text -> carelessLink.callAsync(PREFIX, text, T));
        for (int i = 0; i < SRS_PER_TYPE; i++) {
            for (String[] t : new String[][] {{"localfile", "location"}, {"simplefile", "path"}}) {
                String sr = UUID.randomUUID().toString();
                Path d = dir.resolve("srs").resolve(sr);
                Files.createDirectories(d);
                EmbeddedModeIT.register(carelessLink, sr, t[0]);
                setup.sr().create(DBG, sr, "healthy " + t[0] + " " + i, "", Map.of(t[1], d.toString()), 0);
                setup.sr().attach(DBG, sr, Map.of(t[1], d.toString()));
                healthy.add(new Sr(sr, t[0]));
            }
        }
    }

    /** The result of an extension call on the mux queue with {@code {"dbg"}} as its parameters. */
    JsonNode admin(String method) throws IOException {
        JsonNode reply = Json.parse(carelessLink.call(PREFIX,
                "{\"method\":\"" + method + "\",\"params\":[{\"dbg\":\"" + DBG + "\"}],\"id\":1}", T));
        assertTrue(reply.get("error").isNull(), () -> method + ": " + reply);
        return reply.get("result");
    }

    static String request(String method, String sr) {
        ObjectNode p = Json.NODES.objectNode().put("dbg", DBG).put("sr", sr);
        return JsonRpc.request(method, p);
    }

    /** The storage error of a JSON-RPC reply, or null when it succeeded. */
    static StorageError errorOf(String reply) {
        JsonRpc.Response r = JsonRpc.parseResponse(reply);
        return r.error().map(e -> WireCodec.<StorageError>decode(e, StorageError.class)).orElse(null);
    }

    static String wire(StorageError e) {
        return Json.write(WireCodec.encode(e, StorageError.class));
    }

    // ------------------------------------------------------------------------------------------------ load

    void startLoad() {
        StorageService mux = StorageClient.of(text -> healthyLink.callAsync(PREFIX, text, T));
        for (int i = 0; i < CLIENTS; i++) {
            int id = i;
            Sr sr = healthy.get(i % healthy.size());
            start("fi-client-" + i, () -> healthyClient(mux, id, sr));
        }
        StorageService prober = StorageClient.of(text -> proberLink.callAsync(PREFIX, text, T));
        start("fi-prober", () -> probe(prober));
    }

    void start(String name, Runnable body) {
        Thread t = new Thread(body, name);
        t.setDaemon(true);
        threads.add(t);
        t.start();
    }

    /** One healthy client: a VBD's life on its SR, over and over, until the run ends or a call fails. */
    void healthyClient(StorageService mux, int id, Sr sr) {
        Random random = new Random(id);
        try {
            for (long cycle = 0; running; cycle++) {
                cycle(mux, random, id, cycle, sr);
            }
        } catch (Stop | InterruptedException e) {
            // the run is over, or a call failed (recorded)
        }
    }

    void cycle(StorageService mux, Random random, int id, long cycle, Sr sr) throws InterruptedException {
        String dp = "vbd/fi-" + id + "/xvda";
        String vm = "vm-fi-" + id;
        step(random, "SR.stat", sr, () -> mux.sr().stat(DBG, sr.id()));
        VdiInfo v = step(random, "VDI.create", sr, () -> mux.vdi().create(DBG, sr.id(),
                VdiInfo.defaults("", "fi " + id + " " + cycle).withSizes(1 << 20, 0)));
        step(random, "VDI.attach3", sr, () -> mux.vdi().attach3(DBG, dp, sr.id(), v.vdi(), vm, true));
        step(random, "VDI.activate3", sr, () -> run(() -> mux.vdi().activate3(DBG, dp, sr.id(), v.vdi(), vm)));
        step(random, "VDI.deactivate", sr, () -> run(() -> mux.vdi().deactivate(DBG, dp, sr.id(), v.vdi(), vm)));
        step(random, "VDI.detach", sr, () -> run(() -> mux.vdi().detach(DBG, dp, sr.id(), v.vdi(), vm)));
        step(random, "VDI.destroy", sr, () -> run(() -> mux.vdi().destroy(DBG, sr.id(), v.vdi())));
        if (cycle % 4 == id % 4) {
            step(random, "SR.list", sr, () -> mux.sr().list(DBG));
        }
    }

    static Object run(Runnable r) {
        r.run();
        return null;
    }

    /** A think time (uniform, 0 to twice the mean), then the call, measured in the phase it started in. */
    <T> T step(Random random, String call, Sr sr, Supplier<T> body) throws InterruptedException {
        long think = thinkMs;
        Thread.sleep(think <= 0 ? 0 : (long) (random.nextDouble() * 2 * think));
        if (!running) {
            throw new Stop();
        }
        Phase p = enter();
        long t0 = System.nanoTime();
        try {
            T result = body.get();
            if (p != null) {
                p.healthy.add(call, System.nanoTime() - t0);
                p.done.incrementAndGet();
            }
            return result;
        } catch (RuntimeException e) {
            fail("healthy " + call + " on " + sr.type() + " SR " + sr.id() + " failed after "
                    + (System.nanoTime() - t0) / 1_000_000 + " ms: " + describe(e), e);
            throw new Stop();
        } finally {
            leave(p);
        }
    }

    /**
     * The phase a call starting now belongs to (null between phases), counted in flight. A call that read the
     * phase just as it was closed counts as unmeasured, so a closed phase whose in-flight count reached 0 gets no
     * more calls.
     */
    Phase enter() {
        Phase p = current;
        if (p == null) {
            return null;
        }
        p.inFlight.incrementAndGet();
        if (current != p) {
            p.inFlight.decrementAndGet();
            return null;
        }
        return p;
    }

    static void leave(Phase p) {
        if (p != null) {
            p.inFlight.decrementAndGet();
        }
    }

    /** Query.query on the mux every 100 ms, all run long. */
    void probe(StorageService mux) {
        try {
            while (running) {
                Phase p = enter();
                long t0 = System.nanoTime();
                LocalTime started = LocalTime.now();
                try {
                    String driver = mux.query().query(DBG).driver();
                    if (!driver.equals("mux")) {
                        fail("Query.query answered driver " + driver, null);
                    }
                    long took = System.nanoTime() - t0;
                    if (p != null) {
                        p.query.add("Query.query", took);
                        if (took >= MAX_QUERY_MS * 1e6) {
                            p.slowQueries.add(started + " " + ms(took / 1e6) + " ms");
                        }
                    }
                } catch (RuntimeException e) {
                    fail("Query.query failed: " + describe(e), e);
                    return;
                } finally {
                    leave(p);
                }
                Thread.sleep(100);
            }
        } catch (InterruptedException e) {
            // the run is over
        }
    }

    void fail(String what, Throwable cause) {
        if (running) {
            failure.compareAndSet(null, new AssertionError(what, cause));
        }
    }

    static String describe(Throwable e) {
        return e instanceof StorageException se ? wire(se.error()) : e.toString();
    }

    void assertNoFailure() {
        AssertionError e = failure.get();
        if (e != null) {
            throw new AssertionError(e.getMessage() + "\n" + tail(daemon.output()), e);
        }
    }

    static String tail(String log) {
        return log.length() > 20_000 ? "...\n" + log.substring(log.length() - 20_000) : log;
    }

    /**
     * Measures {@code phase} until the healthy clients have completed {@code calls} calls in it, then closes it
     * and waits for the calls still in flight (they count: they started in it).
     */
    Phase runPhase(Phase phase, int calls) throws InterruptedException {
        long cpu0 = daemonCpuTicks();
        phase.startNanos = System.nanoTime();
        current = phase;
        // bounded by progress, not by the phase's length: a slow machine takes longer, a stall fails
        while (phase.done.get() < calls && failure.get() == null) {
            int before = phase.done.get();
            Soon.await(phase.name + ": a healthy call completes (" + before + " of " + calls + " done)", T, () -> {
                daemon.assertAlive();
                return failure.get() != null || phase.done.get() > before;
            });
        }
        current = null;
        Soon.await(phase.name + ": the calls in flight finish", T, () -> phase.inFlight.get() == 0);
        phase.endNanos = System.nanoTime();
        phase.cpuTicks = daemonCpuTicks() - cpu0;
        assertNoFailure();
        return phase;
    }

    /** Sets the think time so that the daemon and its scripts use about {@link #CPU_SHARE} of the cores. */
    void calibrate(Phase warmUp) {
        long[] l = warmUp.healthy.all();
        double cpuPerCall = warmUp.cpuTicks / (double) TICKS_PER_SECOND / l.length;
        double meanMs = Arrays.stream(l).average().orElse(0) / 1e6;
        int cores = Runtime.getRuntime().availableProcessors();
        double rate = CPU_SHARE * cores / cpuPerCall; // calls per second, all clients
        long think = THINK_MS != null ? THINK_MS : Math.max(20, Math.round(CLIENTS * 1000 / rate - meanMs));
        System.out.printf(Locale.ROOT, "fault-isolation calibration: warm-up %d calls in %.1f s, mean %.0f ms, daemon "
                + "CPU %.1f ms per call; target %.2f of %d cores = %.1f calls/s -> think time mean %d ms%s%n", l.length,
                warmUp.seconds(), meanMs, cpuPerCall * 1000, CPU_SHARE, cores, rate, think,
                THINK_MS != null ? " (set)" : "");
        thinkMs = think;
    }

    /** The daemon's CPU time and its reaped children's (the driver and plugin scripts), in clock ticks. */
    long daemonCpuTicks() {
        try {
            String stat = Files.readString(Path.of("/proc/" + daemon.process.pid() + "/stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return Long.parseLong(f[11]) + Long.parseLong(f[12]) + Long.parseLong(f[13]) + Long.parseLong(f[14]);
        } catch (IOException | RuntimeException e) {
            throw new AssertionError("cannot read the daemon's CPU time: " + e + "\n" + tail(daemon.output()), e);
        }
    }

    static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split(" ");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException e) {
            return "?";
        }
    }

    // ------------------------------------------------------------------------------------------------ faults

    /** The three faults of one faulty phase, and the careless caller that keeps calling the sick SRs. */
    final class Faults {
        final int round;
        final DeadBackend dead;
        final HungDriver hung;
        final SickPlugin sick;
        final List<Thread> carelessThreads = new ArrayList<>();
        volatile boolean calling = true;

        Faults(int round) {
            this.round = round;
            this.dead = new DeadBackend(round);
            this.hung = new HungDriver(round);
            this.sick = new SickPlugin(round);
        }

        void setUp() throws Exception {
            dead.setUp();
            hung.setUp();
            sick.setUp();
            carelessLoop("fi-careless-dead-" + round, DEAD_PAUSE_MS, dead::call);
            carelessLoop("fi-careless-sick-" + round, SICK_PAUSE_MS, sick::call);
        }

        void carelessLoop(String name, long pauseMs, java.util.function.IntConsumer call) {
            Thread t = new Thread(() -> {
                try {
                    for (int i = 0; calling && running && failure.get() == null; i++) {
                        call.accept(i);
                        Thread.sleep(pauseMs);
                    }
                } catch (InterruptedException e) {
                    // the run is over
                }
            }, name);
            t.setDaemon(true);
            carelessThreads.add(t);
            threads.add(t);
            t.start();
        }

        void stopCarelessCalls() throws InterruptedException {
            calling = false;
            for (Thread t : carelessThreads) {
                t.join(Soon.millis());
                assertTrue(!t.isAlive(), t.getName() + " stopped");
            }
            assertNoFailure();
        }

        void assertInEffect() throws Exception {
            hung.assertInEffect();
            sick.assertInEffect();
            assertTrue(dead.calls.get() > 0, "the careless caller called the dead backend's SR");
            assertTrue(sick.calls.get() > 0, "the careless caller called the sick plugin's SR");
        }

        /** Lets the hung calls go (idempotent; also on failure, so no script is left waiting). */
        void release() throws IOException {
            calling = false;
            hung.release();
            sick.release();
            dead.closeServer();
        }

        void assertCompletedAndRemove() throws Exception {
            hung.assertCompletedAndRemove();
            sick.assertCompletedAndRemove();
            dead.remove();
        }
    }

    static void createIfMissing(Path p) throws IOException {
        if (!Files.exists(p)) {
            Files.createFile(p);
        }
    }

    static int lines(Path p) throws IOException {
        return Files.exists(p) ? (int) Files.readAllLines(p).stream().filter(s -> !s.isBlank()).count() : 0;
    }

    static void assertStillPending(List<CompletableFuture<String>> calls, String what) {
        List<String> done = calls.stream().filter(CompletableFuture::isDone)
                .map(f -> f.isCompletedExceptionally() ? "failed" : f.join()).toList();
        assertEquals(List.of(), done, what + ": all still pending at the end of the phase");
    }

    static void assertAllSucceed(List<CompletableFuture<String>> calls, String what) throws Exception {
        for (CompletableFuture<String> f : calls) {
            String reply = Soon.get(f, Soon.times(3));
            StorageError e = errorOf(reply);
            assertTrue(e == null, () -> what + " failed after the release: " + reply);
        }
    }

    /** A backend that registered an SR and then went away: its queue is no longer served. */
    final class DeadBackend {
        final String type;
        final String sr;
        final AtomicInteger calls = new AtomicInteger();
        SwitchQueueServer server;

        DeadBackend(int round) {
            this.type = "ghost" + round;
            this.sr = "ghost-sr-" + round;
        }

        void setUp() throws Exception {
            RecordingBackend backend = new RecordingBackend(type);
            server = SwitchQueueServer.start(address, PREFIX + "." + type, 8, backend.dispatcher()::dispatch,
                    SwitchFixture.PATIENT);
            Soon.await("SR " + sr + " registered to the live backend " + type, () -> Json.parse(carelessLink.call(
                    PREFIX, "{\"method\":\"Registry.register\",\"params\":[{\"dbg\":\"" + DBG + "\",\"sr\":\"" + sr
                            + "\",\"sr_type\":\"" + type + "\"}],\"id\":1}", T)).get("error").isNull());
            closeServer();
            Soon.await("the daemon lists backend " + type + " as not alive", () -> {
                JsonNode b = admin("Mux.diagnostics").path("backends").path(type);
                return b.has("alive") && !b.get("alive").asBoolean();
            });
        }

        void closeServer() {
            if (server != null) {
                server.close();
                server = null;
            }
        }

        /** SR.stat or VDI.attach3 on the dead SR: No_storage_plugin_for_sr at once. */
        void call(int i) {
            long t0 = System.nanoTime();
            try {
                if (i % 2 == 0) {
                    careless.sr().stat(DBG, sr);
                } else {
                    careless.vdi().attach3(DBG, "dead-dp", sr, "no-vdi", "vm-careless", true);
                }
                fail("a call on the dead backend's SR " + sr + " succeeded", null);
            } catch (StorageException e) {
                long dt = System.nanoTime() - t0;
                calls.incrementAndGet();
                carelessStats.deadCalls.incrementAndGet();
                carelessStats.deadMaxNanos.accumulateAndGet(dt, Math::max);
                carelessStats.deadErrors.merge(errorName(e.error()), 1, Integer::sum);
                if (!(e.error() instanceof StorageError.NoStoragePluginForSr)) {
                    fail("a call on the dead backend's SR " + sr + " got " + wire(e.error())
                            + ", not No_storage_plugin_for_sr", e);
                }
            } catch (RuntimeException e) {
                fail("a call on the dead backend's SR " + sr + " got no storage error: " + e, e);
            }
        }

        void remove() throws IOException {
            Json.parse(carelessLink.call(PREFIX, "{\"method\":\"Registry.unregister\",\"params\":[{\"dbg\":\""
                    + DBG + "\",\"sr\":\"" + sr + "\"}],\"id\":1}", T));
        }
    }

    static String errorName(StorageError e) {
        JsonNode w = WireCodec.encode(e, StorageError.class);
        String name = w.isArray() && w.size() > 0 ? w.get(0).asText() : w.toString();
        if (e instanceof StorageError.BackendError be) {
            return name + "/" + be.code();
        }
        return name;
    }

    /** An SR of MisbehaveSR whose sr_scan hangs: one scan runs in the driver, 32 wait for the SR behind it. */
    final class HungDriver {
        final String sr;
        final Path started;
        final Path release;
        final List<CompletableFuture<String>> scans = new ArrayList<>();

        HungDriver(int round) {
            this.sr = "hung-sr-" + round;
            Path d = dir.resolve("hung-" + round);
            this.started = d.resolve("started");
            this.release = d.resolve("release");
        }

        void setUp() throws Exception {
            Files.createDirectories(started.getParent());
            Map<String, String> config = Map.of("behave", "hang_scan", "started", started.toString(),
                    "release", release.toString());
            EmbeddedModeIT.register(carelessLink, sr, "misbehave");
            StorageService setup = StorageClient.of(text -> carelessLink.callAsync(PREFIX, text, T));
            setup.sr().create(DBG, sr, "hung", "", config, 0);
            setup.sr().attach(DBG, sr, config);
            for (int i = 0; i <= QUEUED; i++) {
                scans.add(carelessLink.callAsync(PREFIX, request("SR.scan", sr), HOURS));
            }
            Soon.await("an SR.scan of " + sr + " hangs in MisbehaveSR", () -> lines(started) >= 1);
        }

        void assertInEffect() throws IOException {
            assertStillPending(scans, "the " + scans.size() + " SR.scan of the hung driver");
            assertEquals(1, lines(started), "one SR.scan runs in the driver, the others wait for the SR");
            carelessStats.hungRunning = lines(started);
            carelessStats.hungQueued = scans.size() - lines(started);
        }

        void release() throws IOException {
            if (Files.isDirectory(release.getParent())) {
                createIfMissing(release);
            }
        }

        void assertCompletedAndRemove() throws Exception {
            assertAllSucceed(scans, "an SR.scan of the hung driver");
            assertEquals(scans.size(), lines(started), "every SR.scan ran the driver once released");
            StorageClient.of(text -> carelessLink.callAsync(PREFIX, text, T)).sr().detach(DBG, sr);
            Json.parse(carelessLink.call(PREFIX, "{\"method\":\"Registry.unregister\",\"params\":[{\"dbg\":\""
                    + DBG + "\",\"sr\":\"" + sr + "\"}],\"id\":1}", T));
        }
    }

    /**
     * Two SRs of the misbehaving plugin {@code sickfile}: on one, SR.stat hangs (32 calls: as many scripts as the
     * bridge lets one SR run, the rest waiting for a slot); the other answers garbage.
     */
    final class SickPlugin {
        final String hungSr;
        final String badSr;
        final Path hungDir;
        final Path badDir;
        final AtomicInteger calls = new AtomicInteger();
        final List<CompletableFuture<String>> stats = new ArrayList<>();

        SickPlugin(int round) {
            this.hungSr = "sick-hung-sr-" + round;
            this.badSr = "sick-bad-sr-" + round;
            this.hungDir = dir.resolve("sick-hung-" + round);
            this.badDir = dir.resolve("sick-bad-" + round);
        }

        /** The plugin's scripts: Python for the ones that answer or hang, sh for the ones that fail. */
        static void write(Path plugin) throws IOException {
            Files.createDirectories(plugin);
            Path py = plugin.resolve("sickfile.py");
            Files.writeString(py, SICKFILE_PY);
            Files.setPosixFilePermissions(py, PosixFilePermissions.fromString("rwxr-xr-x"));
            for (String s : List.of("Plugin.Query", "Plugin.diagnostics", "SR.attach", "SR.detach", "SR.stat")) {
                Files.createSymbolicLink(plugin.resolve(s), Path.of("sickfile.py"));
            }
            script(plugin.resolve("Volume.create"), "#!/bin/sh\necho 'sickfile: {this is not JSON'\n");
            script(plugin.resolve("SR.ls"), "#!/bin/sh\necho 'sickfile: SR.ls is broken today' >&2\nexit 1\n");
        }

        static void script(Path p, String text) throws IOException {
            Files.writeString(p, text);
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
        }

        void setUp() throws Exception {
            StorageService setup = StorageClient.of(text -> carelessLink.callAsync(PREFIX, text, T));
            for (String[] s : new String[][] {{hungSr, hungDir.toString()}, {badSr, badDir.toString()}}) {
                Files.createDirectories(Path.of(s[1]));
                EmbeddedModeIT.register(carelessLink, s[0], "sickfile");
                setup.sr().attach(DBG, s[0], Map.of("path", s[1]));
            }
            Files.createFile(hungDir.resolve("hang")); // SR.attach ran SR.stat: from now on it hangs
            for (int i = 0; i < SICK_HUNG; i++) {
                stats.add(carelessLink.callAsync(PREFIX, request("SR.stat", hungSr), HOURS));
            }
            Soon.await("SR.stat of " + hungSr + " hangs in the sick plugin", () -> lines(hungDir.resolve("started")) >= 1);
        }

        /** VDI.create (non-JSON output) or SR.scan (exit 1, stderr only) on the bad SR: a storage error. */
        void call(int i) {
            long t0 = System.nanoTime();
            String what = i % 2 == 0 ? "VDI.create" : "SR.scan";
            try {
                if (i % 2 == 0) {
                    careless.vdi().create(DBG, badSr, VdiInfo.defaults("", "sick").withSizes(1 << 20, 0));
                } else {
                    careless.sr().scan(DBG, badSr);
                }
                fail(what + " on the sick plugin's SR " + badSr + " succeeded", null);
            } catch (StorageException e) {
                long dt = System.nanoTime() - t0;
                calls.incrementAndGet();
                carelessStats.sickCalls.incrementAndGet();
                carelessStats.sickMaxNanos.accumulateAndGet(dt, Math::max);
                carelessStats.sickErrors.merge(what + " " + errorName(e.error()), 1, Integer::sum);
                if (wire(e.error()).contains("Timeout")) {
                    fail(what + " on the sick plugin's SR timed out: " + wire(e.error()), e);
                }
            } catch (RuntimeException e) {
                fail(what + " on the sick plugin's SR " + badSr + " got no storage error: " + e, e);
            }
        }

        void assertInEffect() throws IOException {
            assertStillPending(stats, "the " + stats.size() + " SR.stat of the sick plugin's hung SR");
            int running = lines(hungDir.resolve("started"));
            assertTrue(running >= 1 && running <= SICK_HUNG, "SR.stat scripts running: " + running);
            carelessStats.sickRunning = running;
            carelessStats.sickPending = stats.size();
        }

        void release() throws IOException {
            if (Files.isDirectory(hungDir)) {
                createIfMissing(hungDir.resolve("release"));
            }
        }

        void assertCompletedAndRemove() throws Exception {
            assertAllSucceed(stats, "an SR.stat of the sick plugin's hung SR");
            StorageService setup = StorageClient.of(text -> carelessLink.callAsync(PREFIX, text, T));
            for (String sr : List.of(hungSr, badSr)) {
                setup.sr().detach(DBG, sr);
                Json.parse(carelessLink.call(PREFIX, "{\"method\":\"Registry.unregister\",\"params\":[{\"dbg\":\""
                        + DBG + "\",\"sr\":\"" + sr + "\"}],\"id\":1}", T));
            }
        }
    }

    /** Plugin.Query / Plugin.diagnostics / SR.attach / SR.detach answer; SR.stat hangs once {@code hang} exists. */
    static final String SICKFILE_PY = String.join("\n",
            "#!/usr/bin/env python3",
            "# sickfile: a misbehaving SMAPIv3 volume plugin written by FaultIsolationIT. SR.stat of an SR whose",
            "# directory holds 'hang' waits (polling, little CPU) until 'release' appears there, and appends its pid",
            "# to 'started'; Volume.create and SR.ls are sh scripts that answer garbage.",
            "import json, os, sys, time",
            "from urllib.parse import urlparse",
            "",
            "def sr_dir(handle):",
            "    return urlparse(handle).path",
            "",
            "def stat(args):",
            "    d = sr_dir(args['sr'])",
            "    if os.path.exists(os.path.join(d, 'hang')):",
            "        with open(os.path.join(d, 'started'), 'a') as f:",
            "            f.write('%d\\n' % os.getpid())",
            "        while not os.path.exists(os.path.join(d, 'release')):",
            "            time.sleep(0.2)",
            "    return {'sr': args['sr'], 'name': 'sick', 'uuid': os.path.basename(d), 'description': 'sick on purpose',",
            "            'free_space': 0, 'total_space': 0, 'datasources': [], 'clustered': False,",
            "            'health': ['Healthy', '']}",
            "",
            "QUERY = {'plugin': 'sickfile', 'name': 'sick file', 'description': 'misbehaves on purpose',",
            "         'vendor': 'tests', 'copyright': 'tests', 'version': '1.0', 'required_api_version': '5.0',",
            "         'features': ['SR_ATTACH', 'SR_DETACH', 'VDI_CREATE'], 'configuration': {'path': 'a directory'},",
            "         'required_cluster_stack': []}",
            "",
            "method = os.path.basename(sys.argv[0])",
            "args = json.loads(sys.stdin.read())",
            "if method == 'Plugin.Query':",
            "    out = QUERY",
            "elif method == 'Plugin.diagnostics':",
            "    out = 'sickfile: sick on purpose'",
            "elif method == 'SR.attach':",
            "    out = 'file://' + os.path.normpath(args['configuration']['path'])",
            "elif method == 'SR.detach':",
            "    out = None",
            "elif method == 'SR.stat':",
            "    out = stat(args)",
            "else:",
            "    sys.stderr.write('sickfile: no ' + method + '\\n')",
            "    sys.exit(2)",
            "print(json.dumps(out))",
            "");

    // ------------------------------------------------------------------------------------------------ report

    static double pct(long[] sorted, double p) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        int i = (int) Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1));
        return sorted[i] / 1e6;
    }

    /** How many {@code Query.query} calls took {@link #MAX_QUERY_MS} or more. */
    static long slow(long[] q) {
        return Arrays.stream(q).filter(n -> n >= MAX_QUERY_MS * 1e6).count();
    }

    static double max(long[] sorted) {
        return sorted.length == 0 ? Double.NaN : sorted[sorted.length - 1] / 1e6;
    }

    static String ms(double v) {
        return v < 10 ? String.format(Locale.ROOT, "%.1f", v) : String.format(Locale.ROOT, "%.0f", v);
    }

    static String p50p90p99(long[] l) {
        return ms(pct(l, 50)) + "/" + ms(pct(l, 90)) + "/" + ms(pct(l, 99));
    }

    Phase report(Phase p) {
        long[] h = p.healthy.all();
        long[] q = p.query.all();
        System.out.printf(Locale.ROOT, "fault-isolation phase %s: %d healthy calls in %.1f s (%.1f/s), p50/p90/p99/max "
                + "%s/%s ms; Query.query n=%d p99/p99.9/max %s/%s/%s ms, %d >= %.0f ms; daemon CPU %.2f cores; load "
                + "%s%n", p.name, h.length, p.seconds(), h.length / p.seconds(), p50p90p99(h), ms(max(h)), q.length,
                ms(pct(q, 99)), ms(pct(q, 99.9)), ms(max(q)), slow(q), MAX_QUERY_MS, p.cores(), loadAverage());
        synchronized (p.slowQueries) {
            if (!p.slowQueries.isEmpty()) {
                System.out.println("fault-isolation phase " + p.name + ": Query.query >= " + ms(MAX_QUERY_MS)
                        + " ms started at " + String.join(", ", p.slowQueries.subList(0, Math.min(20, p.slowQueries.size())))
                        + (p.slowQueries.size() > 20 ? ", ..." : ""));
            }
        }
        return p;
    }

    void summarize(List<Phase> baselines, List<Phase> faulties, String loadBefore) {
        long[] hb = Latencies.merge(baselines, false).all();
        long[] hf = Latencies.merge(faulties, false).all();
        long[] qb = Latencies.merge(baselines, true).all();
        long[] qf = Latencies.merge(faulties, true).all();
        double ratio = pct(hf, 99) / pct(hb, 99);
        Map<String, long[]> byCallB = Latencies.merge(baselines, false).each();
        Map<String, long[]> byCallF = Latencies.merge(faulties, false).each();
        String perCall = byCallB.keySet().stream().map(c -> c + " " + ms(pct(byCallB.get(c), 99)) + "/"
                + ms(pct(byCallF.getOrDefault(c, new long[0]), 99))).collect(Collectors.joining(", "));
        double cpuB = baselines.stream().mapToDouble(Phase::cores).average().orElse(Double.NaN);
        double cpuF = faulties.stream().mapToDouble(Phase::cores).average().orElse(Double.NaN);
        Careless c = carelessStats;
        System.out.println("fault-isolation p99 by call (baseline/faulty ms): " + perCall);
        System.out.printf(Locale.ROOT, "fault-isolation: rounds=%d calls/phase=%d clients=%d think=%d ms; healthy "
                        + "p50/p90/p99 baseline=%s faulty=%s ms ratio(p99)=%.2f; Query.query p99/max baseline=%s/%s "
                        + "faulty=%s/%s ms (>= %.0f ms: %d of %d, %d of %d); dead-backend calls=%d (%s, max %s ms); hung driver: %d running + %d queued; "
                        + "sick plugin: %d SR.stat hung (%d in scripts), calls=%d (%s, max %s ms); daemon CPU "
                        + "baseline=%.2f faulty=%.2f cores; load %s -> %s; timing asserts %s%n",
                ROUNDS, CALLS, CLIENTS, thinkMs, p50p90p99(hb), p50p90p99(hf), ratio, ms(pct(qb, 99)), ms(max(qb)),
                ms(pct(qf, 99)), ms(max(qf)), MAX_QUERY_MS, slow(qb), qb.length, slow(qf), qf.length, c.deadCalls.get(), new TreeMap<>(c.deadErrors),
                ms(c.deadMaxNanos.get() / 1e6), c.hungRunning, c.hungQueued, c.sickPending, c.sickRunning,
                c.sickCalls.get(), new TreeMap<>(c.sickErrors), ms(c.sickMaxNanos.get() / 1e6), cpuB, cpuF,
                loadBefore, loadAverage(), TIMING ? "on" : "off");
        assertTrue(c.deadMaxNanos.get() < Soon.timeout().toNanos(), "every call on the dead backend's SR failed soon");
        assertTrue(c.sickMaxNanos.get() < Soon.timeout().toNanos(), "every garbage call on the sick plugin failed soon");
        if (TIMING) {
            String load = " (load average " + loadBefore + " at the start, " + loadAverage() + " at the end; the timing "
                    + "asserts need a quiet machine, -Dreliability.isolation.timing=false turns them off)";
            assertTrue(ratio <= MAX_P99_RATIO, String.format(Locale.ROOT,
                    "healthy p99 with the faults %s ms vs %s ms without: ratio %.2f > %.1f", ms(pct(hf, 99)),
                    ms(pct(hb, 99)), ratio, MAX_P99_RATIO) + load);
            assertTrue(max(qf) < MAX_QUERY_MS, "Query.query max in the faulty phases " + ms(max(qf)) + " ms (baseline "
                    + "phases: " + ms(max(qb)) + " ms)" + load);
        }
    }

    // ------------------------------------------------------------------------------------------------ clean-up

    /** Releases every hung call, stops the threads, kills the daemon and whatever it started. */
    void cleanUp() throws Exception {
        running = false;
        current = null;
        for (Faults f : faults) {
            try {
                f.release();
            } catch (IOException | RuntimeException e) {
                System.out.println("fault-isolation clean-up: " + e);
            }
        }
        if (daemon != null) {
            List<ProcessHandle> children = daemon.process.descendants().toList();
            daemon.close();
            children.forEach(ProcessHandle::destroyForcibly);
        }
        for (Thread t : threads) {
            t.interrupt();
            t.join(Soon.millis());
        }
        for (SwitchRpcClient link : Arrays.asList(healthyLink, proberLink, carelessLink)) {
            if (link != null) {
                link.close();
            }
        }
    }
}
