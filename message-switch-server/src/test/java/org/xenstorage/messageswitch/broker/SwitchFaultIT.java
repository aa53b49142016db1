package org.xenstorage.messageswitch.broker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.xenstorage.messageswitch.broker.TestSwitches.awaitWorking;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.messageswitch.client.SwitchAddress;
import org.xenstorage.messageswitch.client.SwitchException;
import org.xenstorage.messageswitch.client.SwitchOptions;
import org.xenstorage.messageswitch.client.SwitchQueueServer;
import org.xenstorage.messageswitch.client.SwitchRpcClient;
import org.xenstorage.testing.Soon;

/**
 * The switch fault suite (issue 8, item 2): the embedded broker is closed and restarted N times (CI 10,
 * {@code -Dreliability.full=true} 100, {@code -Dreliability.switch.restarts=N} overrides) while concurrent RPC
 * callers load a served echo queue. Every call is accounted for: answered with its own body, failed with a
 * {@link SwitchException} of a named kind, or lost (its future not complete within its timeout plus
 * {@link Soon}'s bound): lost and wrong answers must be 0. After the last restart calls succeed again, and the
 * process's file descriptors ({@code /proc/self/fd}) and live threads return to their baseline. While the switch is
 * down, the process's CPU time per wall second stays far below one core (no reconnect busy loop): a
 * generous bound on CPU seconds, no wall-clock assertion.
 */
class SwitchFaultIT {
    static final boolean FULL = Boolean.getBoolean("reliability.full");
    static final int RESTARTS = Integer.getInteger("reliability.switch.restarts", FULL ? 100 : 10);
    static final int CALLERS = 8;
    static final int SERVER_CONCURRENCY = 8;
    /** A call's own timeout: a TIMEOUT is one of the named failures counted, so it stays short. */
    static final Duration CALL_TIMEOUT = Duration.ofSeconds(5);
    /** How long past its timeout a call may take to complete before it counts as lost. */
    static final Duration LOST_AFTER = CALL_TIMEOUT.plus(Soon.timeout());
    @TempDir
    Path dir;

    private static long openFds() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }

    private static long cpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    /** Cached pools that grow with concurrency and idle out after 60 s: bounded, counted apart. */
    private static boolean pooled(String name) {
        return name.startsWith("switch-handler-") || name.startsWith("switch-rpc-callback-");
    }

    /** Live threads outside the concurrency-sized cached pools. */
    private static int threads() {
        return (int) Thread.getAllStackTraces().keySet().stream().filter(t -> !pooled(t.getName())).count();
    }

    private static long pooledThreads(String prefix) {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith(prefix)).count();
    }

    private static java.util.SortedMap<String, Integer> threadNames() {
        java.util.SortedMap<String, Integer> m = new java.util.TreeMap<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            m.merge(t.getName().replaceAll("[0-9]+", "#"), 1, Integer::sum);
        }
        return m;
    }

    @Test
    void restartsUnderLoadLoseNoCallAndLeakNothing() throws Exception {
        String queue = "org.xen.test.fault.echo";
        EmbeddedSwitch sw = RestartIT.startSwitch(dir);
        try (SwitchQueueServer server = SwitchQueueServer.start(RestartIT.addr(dir), queue, SERVER_CONCURRENCY,
                b -> CompletableFuture.completedFuture(b), RestartIT.FAST);
             SwitchRpcClient client = SwitchRpcClient.connect(RestartIT.addr(dir), "fault", RestartIT.FAST)) {
            // a warm-up restart and some calls, so lazily created resources are in the baseline
            awaitWorking(client, queue);
            sw.close();
            sw = RestartIT.startSwitch(dir);
            awaitWorking(client, queue);
            Soon.await("server and client are connected", () -> server.isConnected() && client.isConnected());
            // a moment for the warm-up's leftovers to settle: a baseline taken early is only more lenient
            Thread.sleep(500);
            long fdBaseline = openFds();
            int threadBaseline = threads();
            java.util.SortedMap<String, Integer> namesBefore = threadNames();

            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong issued = new AtomicLong();
            AtomicLong answered = new AtomicLong();
            AtomicLong wrong = new AtomicLong();
            AtomicLong lost = new AtomicLong();
            AtomicLong other = new AtomicLong();
            Map<SwitchException.Kind, AtomicLong> failed = new EnumMap<>(SwitchException.Kind.class);
            for (SwitchException.Kind k : SwitchException.Kind.values()) {
                failed.put(k, new AtomicLong());
            }
            List<Thread> load = new ArrayList<>();
            for (int t = 0; t < CALLERS; t++) {
                int id = t;
                Thread th = new Thread(() -> {
                    long i = 0;
                    while (!stop.get()) {
                        String body = id + "/" + i++;
                        issued.incrementAndGet();
                        CompletableFuture<String> f = client.callAsync(queue, body, CALL_TIMEOUT);
                        boolean error = false;
                        try {
                            if (f.get(LOST_AFTER.toMillis(), TimeUnit.MILLISECONDS).equals(body)) {
                                answered.incrementAndGet();
                            } else {
                                wrong.incrementAndGet();
                            }
                        } catch (ExecutionException e) {
                            error = true;
                            if (e.getCause() instanceof SwitchException se) {
                                failed.get(se.kind()).incrementAndGet();
                            } else {
                                other.incrementAndGet();
                            }
                        } catch (TimeoutException e) {
                            lost.incrementAndGet();
                        } catch (InterruptedException e) {
                            return;
                        }
                        if (error) {
                            try {
                                Thread.sleep(20); // a caller's pause before retrying; keeps the down-time CPU about the switch client
                            } catch (InterruptedException ie) {
                                return;
                            }
                        }
                    }
                }, "fault-caller-" + t);
                th.start();
                load.add(th);
            }
            long downCpu = 0;
            long downWall = 0;
            for (int r = 0; r < RESTARTS; r++) {
                Thread.sleep(300);
                sw.close();
                long c0 = cpuNanos();
                long w0 = System.nanoTime();
                Thread.sleep(400);
                downCpu += cpuNanos() - c0;
                downWall += System.nanoTime() - w0;
                sw = RestartIT.startSwitch(dir);
            }
            awaitWorking(client, queue);
            long answeredBefore = answered.get();
            Soon.await("the callers' calls are answered again after the last restart",
                    () -> answered.get() > answeredBefore + CALLERS);
            stop.set(true);
            for (Thread th : load) {
                // a caller ends after its current call, answered, failed or lost
                th.join(LOST_AFTER.plus(Soon.timeout()).toMillis());
                assertFalse(th.isAlive(), "a caller hung");
            }
            long failedTotal = failed.values().stream().mapToLong(AtomicLong::get).sum();
            double cpuPerWallWhileDown = (double) downCpu / downWall;
            Soon.await("server and client are connected after the last restart",
                    () -> server.isConnected() && client.isConnected());
            // fds and threads settle back (closed channels and finished event loops go away asynchronously)
            long[] fds = new long[1];
            int[] thr = new int[1];
            try {
                Soon.await("fds and threads back to their baseline", () -> {
                    fds[0] = openFds();
                    thr[0] = threads();
                    return fds[0] <= fdBaseline + 4 && thr[0] <= threadBaseline + 4;
                });
            } catch (AssertionError e) {
                // reported by the assertions below with the figures
            }
            System.out.printf("SwitchFaultIT: %d restarts, %d callers, %d calls: %d answered, %d failed %s, %d lost,"
                            + " %d wrong, %d other; fds %d -> %d, threads %d -> %d; CPU while down %.3f s per wall s%n",
                    RESTARTS, CALLERS, issued.get(), answered.get(), failedTotal, failed, lost.get(), wrong.get(),
                    other.get(), fdBaseline, fds[0], threadBaseline, thr[0], cpuPerWallWhileDown);
            long handlerThreads = pooledThreads("switch-handler-");
            long callbackThreads = pooledThreads("switch-rpc-callback-");
            System.out.println("SwitchFaultIT pooled threads: handlers " + handlerThreads + " (max concurrency "
                    + SERVER_CONCURRENCY + "), rpc callbacks " + callbackThreads + " (callers " + CALLERS + ")");
            System.out.println("SwitchFaultIT threads before " + namesBefore + "\n after " + threadNames());
            assertEquals(0, lost.get(), "calls lost (neither answered nor failed within their timeout)");
            assertEquals(0, wrong.get(), "replies that went to the wrong caller");
            assertEquals(0, other.get(), "failures that were not a SwitchException");
            assertEquals(issued.get(), answered.get() + failedTotal, "every call is accounted for");
            assertTrue(answered.get() > answeredBefore, "calls succeed again after the last restart");
            assertTrue(failedTotal > 0, "the restarts were seen by the callers (the suite does test something)");
            assertTrue(fds[0] <= fdBaseline + 4, "fds: baseline " + fdBaseline + ", after " + RESTARTS + " restarts " + fds[0]);
            assertTrue(handlerThreads <= 2L * SERVER_CONCURRENCY, "handler threads: " + handlerThreads);
            assertTrue(callbackThreads <= 2L * CALLERS + 4, "rpc callback threads: " + callbackThreads);
            assertTrue(thr[0] <= threadBaseline + 4,
                    "threads: baseline " + threadBaseline + ", after " + RESTARTS + " restarts " + thr[0]);
            // a reconnect busy loop burns a whole core (1.0) or more; backoff sleeps cost a few percent
            assertTrue(cpuPerWallWhileDown < 0.5, "CPU seconds per wall second while the switch is down: "
                    + cpuPerWallWhileDown);
        } finally {
            sw.close();
        }
    }
}
