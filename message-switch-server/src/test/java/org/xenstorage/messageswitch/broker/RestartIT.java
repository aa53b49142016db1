package org.xenstorage.messageswitch.broker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.xenstorage.messageswitch.broker.TestSwitches.PATIENT;
import static org.xenstorage.messageswitch.broker.TestSwitches.awaitWorking;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.messageswitch.client.SwitchAddress;
import org.xenstorage.messageswitch.client.SwitchConnection;
import org.xenstorage.messageswitch.client.SwitchException;
import org.xenstorage.messageswitch.client.SwitchOptions;
import org.xenstorage.messageswitch.client.SwitchQueueServer;
import org.xenstorage.messageswitch.client.SwitchRpcClient;
import org.xenstorage.messageswitch.client.Transports;
import org.xenstorage.messageswitch.protocol.Message;
import org.xenstorage.messageswitch.protocol.MessageKind;
import org.xenstorage.testing.Soon;

/** The switch goes away and comes back: clients and servers reconnect, nothing hangs, nothing leaks. */
class RestartIT {
    /**
     * Fast reconnects, so restart tests spend their time on restarts (SwitchFaultIT uses these too). The connect
     * timeout is not what is tested: a switch that is up must not be given up on because the machine is busy.
     */
    static final SwitchOptions FAST = PATIENT.withBackoff(Duration.ofMillis(10), Duration.ofMillis(200));

    @TempDir
    Path dir;

    /** A switch on {@code <dir>/sock} keeping its persistent queues in {@code <dir>/state}, so a restart finds them. */
    static EmbeddedSwitch startSwitch(Path dir) {
        return EmbeddedSwitch.start(Optional.of(dir.resolve("sock")), Optional.empty(), dir.resolve("state"));
    }

    static SwitchAddress addr(Path dir) {
        return SwitchAddress.unix(dir.resolve("sock"));
    }

    private static CompletableFuture<String> echo(String b) {
        return CompletableFuture.completedFuture(b);
    }

    @Test
    void callsDuringRestartsEachCompleteOrFailClearlyAndServiceResumes() throws Exception {
        EmbeddedSwitch sw = startSwitch(dir);
        try (SwitchQueueServer server = SwitchQueueServer.start(addr(dir), "org.xen.test.echo", 8, RestartIT::echo, FAST);
             SwitchRpcClient client = SwitchRpcClient.connect(addr(dir), "restart", FAST)) {
            AtomicBoolean stop = new AtomicBoolean();
            AtomicInteger ok = new AtomicInteger();
            AtomicInteger clearErrors = new AtomicInteger();
            AtomicInteger wrong = new AtomicInteger();
            List<Thread> load = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int id = t;
                Thread th = new Thread(() -> {
                    int i = 0;
                    while (!stop.get()) {
                        String body = id + "/" + i++;
                        try {
                            // a call lost in a restart fails TIMEOUT after 3 s: one of the named failures counted
                            if (client.call("org.xen.test.echo", body, Duration.ofSeconds(3)).equals(body)) {
                                ok.incrementAndGet();
                            } else {
                                wrong.incrementAndGet();
                            }
                        } catch (SwitchException e) {
                            clearErrors.incrementAndGet(); // DISCONNECTED / NO_SUCH_QUEUE / TIMEOUT: a named failure
                            try {
                                Thread.sleep(5);
                            } catch (InterruptedException ie) {
                                return;
                            }
                        }
                    }
                });
                th.start();
                load.add(th);
            }
            for (int r = 0; r < 5; r++) {
                Thread.sleep(300);
                sw.close();
                Thread.sleep(100);
                sw = startSwitch(dir);
            }
            awaitWorking(client, "org.xen.test.echo");
            int okBefore = ok.get();
            Soon.await("the callers' calls succeed again after the last restart", () -> ok.get() > okBefore);
            stop.set(true);
            for (Thread th : load) {
                th.join(Soon.millis());
                assertFalse(th.isAlive(), "a caller hung");
            }
            assertEquals(0, wrong.get(), "no reply went to the wrong caller");
            assertTrue(ok.get() > 0 && clearErrors.get() >= 0);
        } finally {
            sw.close();
        }
    }

    /**
     * The most reconnect attempts one connection can start within {@code elapsedMillis} of dropping, each after its
     * backoff of 50 ms doubling up to 400 ms; a busy machine only makes the delays longer, so fewer attempts.
     */
    private static int maxAttempts(long elapsedMillis) {
        int attempts = 0;
        long waited = 0;
        for (long delay = 50; waited + delay <= elapsedMillis; delay = Math.min(400, delay * 2)) {
            waited += delay;
            attempts++;
        }
        return attempts;
    }

    @Test
    void noReconnectBusyLoopWhileTheSwitchIsDown() throws Exception {
        EmbeddedSwitch sw = startSwitch(dir);
        SwitchOptions slowish = PATIENT.withBackoff(Duration.ofMillis(50), Duration.ofMillis(400));
        try (SwitchRpcClient client = SwitchRpcClient.connect(addr(dir), "idle", slowish)) {
            long before = client.connectAttempts();
            long start = System.nanoTime();
            sw.close();
            Thread.sleep(2000); // time for a busy loop to show
            long during = client.connectAttempts() - before;
            long elapsedMillis = (System.nanoTime() - start) / 1_000_000;
            // two connections, about 7 tries each in 2 s, plus slack; a busy loop makes thousands. The bound
            // follows the time that really passed, which a loaded machine can stretch.
            long bound = 2L * maxAttempts(elapsedMillis) + 10;
            assertTrue(during <= bound, "reconnect attempts in " + elapsedMillis + " ms while down: " + during
                    + " (at most " + bound + ")");
            Soon.await("it keeps trying to reconnect while the switch is down",
                    () -> client.connectAttempts() - before >= 2);
            sw = startSwitch(dir);
            Soon.await("the client reconnects to the restarted switch", client::isConnected);
        } finally {
            sw.close();
        }
    }

    private static long openFds() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }

    @Test
    void fileDescriptorsReturnToBaselineAfterAHundredRestarts() throws Exception {
        EmbeddedSwitch sw = startSwitch(dir);
        try (SwitchQueueServer server = SwitchQueueServer.start(addr(dir), "org.xen.test.echo", 4, RestartIT::echo, FAST);
             SwitchRpcClient client = SwitchRpcClient.connect(addr(dir), "fd", FAST)) {
            // one warm-up restart so lazily created resources exist in the baseline
            sw.close();
            sw = startSwitch(dir);
            awaitWorking(client, "org.xen.test.echo");
            long baseline = openFds();
            for (int r = 0; r < 100; r++) {
                sw.close();
                sw = startSwitch(dir);
                if (r % 10 == 0) {
                    awaitWorking(client, "org.xen.test.echo");
                }
            }
            awaitWorking(client, "org.xen.test.echo");
            Soon.await("server and client are connected", () -> server.isConnected() && client.isConnected());
            // closed channels and finished event loops release their fds asynchronously: wait for them; the last
            // figure is the failure's cause
            Soon.await("fds back to the baseline after 100 restarts", () -> {
                long after = openFds();
                if (after > baseline + 4) {
                    throw new IllegalStateException("fds: baseline " + baseline + ", after 100 restarts " + after);
                }
                return true;
            });
        } finally {
            sw.close();
        }
    }

    @Test
    void persistentQueuesAndTheirRequestsSurviveARestartTransientOnesDoNot() throws Exception {
        EmbeddedSwitch sw = startSwitch(dir);
        try {
            SwitchConnection raw = Soon.get(SwitchConnection.open(addr(dir), Transports.sharedClientGroup(), FAST));
            Soon.get(raw.login("early-caller"));
            Soon.get(raw.createPersistent("org.xen.test.later"));
            Soon.get(raw.createPersistent("org.xen.test.reply"));
            Soon.get(raw.createTransient("org.xen.test.temp"));
            assertTrue(Soon.get(raw.send("org.xen.test.later", new Message("queued before restart",
                    new MessageKind.Request("org.xen.test.reply")))).isPresent());
            raw.close();
            sw.close();
            assertTrue(Files.exists(dir.resolve("state").resolve("queues.json")));
            assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
                    Files.getPosixFilePermissions(dir.resolve("state").resolve("queues.json"))));

            sw = startSwitch(dir);
            assertTrue(sw.table().exists("org.xen.test.later"));
            assertFalse(sw.table().exists("org.xen.test.temp"));
            // a server started after the restart gets the request that waited on disk, and replies
            CompletableFuture<String> got = new CompletableFuture<>();
            try (SwitchQueueServer server = SwitchQueueServer.start(addr(dir), "org.xen.test.later", 1, b -> {
                got.complete(b);
                return CompletableFuture.completedFuture("answered");
            }, PATIENT)) {
                assertEquals("queued before restart", Soon.get(got));
                EmbeddedSwitch current = sw;
                Soon.await("the reply is on the persistent reply queue", () -> current.table().snapshot(0, 0)
                        .permanentQueues().get("org.xen.test.reply").contents().size() == 1);
                assertEquals("answered", sw.table().snapshot(0, 0).permanentQueues().get("org.xen.test.reply")
                        .contents().get(0).entry().message().payload());
            }
        } finally {
            sw.close();
        }
    }

    /**
     * A process that embeds the switch and serves its queues (storage-daemon's embedded mode) restarts it
     * without the previous run's messages: those were sent over connections that died with it, and one already
     * answered must not run again (acks reach the state file up to 200 ms late; the SMAPIv3 crash suite saw
     * a replayed request undo later calls).
     */
    @Test
    void aSwitchStartedWithoutKeepingMessagesRestoresTheQueuesEmpty() throws Exception {
        EmbeddedSwitch sw = startSwitch(dir);
        SwitchConnection raw = Soon.get(SwitchConnection.open(addr(dir), Transports.sharedClientGroup(), FAST));
        Soon.get(raw.login("old-caller"));
        Soon.get(raw.createPersistent("org.xen.test.served"));
        assertTrue(Soon.get(raw.send("org.xen.test.served", new Message("left by the previous run",
                new MessageKind.Request("org.xen.test.served")))).isPresent());
        raw.close();
        sw.close();
        assertTrue(Files.readString(dir.resolve("state").resolve("queues.json")).contains("left by the previous run"));

        sw = EmbeddedSwitch.start(Optional.of(dir.resolve("sock")), Optional.empty(), dir.resolve("state"), false);
        try {
            assertTrue(sw.table().exists("org.xen.test.served"), "the persistent queue itself comes back");
            assertEquals(0, sw.table().snapshot(0, 0).permanentQueues().get("org.xen.test.served").contents().size());
            Soon.await("the state file forgets the previous run's request",
                    () -> !Files.readString(dir.resolve("state").resolve("queues.json")).contains("previous run"));
            // new requests on the queue are delivered as usual, and the server is handed only those: the old
            // request is judged by what the handler saw, not by the queue's contents, which an in-flight ack of
            // the probe itself can still change
            List<String> delivered = java.util.Collections.synchronizedList(new ArrayList<>());
            try (SwitchRpcClient client = SwitchRpcClient.connect(addr(dir), "new-caller", FAST);
                 SwitchQueueServer server = SwitchQueueServer.start(addr(dir), "org.xen.test.served", 1, b -> {
                     delivered.add(b);
                     return echo(b);
                 }, PATIENT)) {
                awaitWorking(client, "org.xen.test.served");
                assertEquals("second", client.call("org.xen.test.served", "second", Soon.timeout()));
            }
            assertFalse(delivered.isEmpty());
            assertTrue(delivered.stream().allMatch(b -> b.equals("ping") || b.equals("second")),
                    "nothing old was delivered: " + delivered);
        } finally {
            sw.close();
        }
    }

    @Test
    void callsInFlightWhenTheSwitchDiesFailDisconnectedNotHang() throws Exception {
        EmbeddedSwitch sw = startSwitch(dir);
        CompletableFuture<String> never = new CompletableFuture<>();
        CompletableFuture<Void> handed = new CompletableFuture<>();
        try (SwitchQueueServer server = SwitchQueueServer.start(addr(dir), "org.xen.test.stuck", 4, b -> {
                 handed.complete(null);
                 return never;
             }, FAST);
             SwitchRpcClient client = SwitchRpcClient.connect(addr(dir), "inflight", FAST)) {
            // a timeout far beyond the wait below: only the switch's death can end the call
            CompletableFuture<String> call = client.callAsync("org.xen.test.stuck", "x", Soon.times(10));
            Soon.get(handed); // the call is in flight: its request reached the handler
            sw.close();
            ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                    () -> Soon.get(call));
            assertTrue(e.getCause() instanceof SwitchException);
            assertEquals(SwitchException.Kind.DISCONNECTED, ((SwitchException) e.getCause()).kind());
        } finally {
            sw.close();
        }
    }

    @Test
    void aCorruptStateFileIsAClearStartupErrorNotASilentReset() throws Exception {
        Files.createDirectories(dir.resolve("state"));
        Files.writeString(dir.resolve("state").resolve("queues.json"), "{\"queues\": {\"q\": [[1, {\"nonsense\": 1}]]}}");
        java.io.UncheckedIOException e = org.junit.jupiter.api.Assertions.assertThrows(java.io.UncheckedIOException.class,
                () -> startSwitch(dir));
        assertTrue(e.getCause().getMessage().contains("corrupt switch state"), e.getCause().getMessage());
        assertFalse(Files.exists(dir.resolve("sock")), "nothing listens");
    }
}
