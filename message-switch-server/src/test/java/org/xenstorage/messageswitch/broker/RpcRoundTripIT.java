package org.xenstorage.messageswitch.broker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.xenstorage.messageswitch.broker.TestSwitches.PATIENT;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.messageswitch.client.SwitchAddress;
import org.xenstorage.messageswitch.client.SwitchConnection;
import org.xenstorage.messageswitch.client.SwitchException;
import org.xenstorage.messageswitch.client.SwitchQueueServer;
import org.xenstorage.messageswitch.client.SwitchRpcClient;
import org.xenstorage.messageswitch.client.Transports;
import org.xenstorage.testing.Soon;

/** Client and queue server against the real embedded broker, over a Unix socket and over TCP. */
class RpcRoundTripIT {
    /** The timeout of a call that should be answered: a busy machine must not make it expire. */
    private static final Duration CALL = Soon.timeout();

    @TempDir
    Path dir;

    private EmbeddedSwitch unixSwitch() {
        return EmbeddedSwitch.start(Optional.of(dir.resolve("sock")), Optional.empty(), dir.resolve("state"));
    }

    private static CompletableFuture<String> echo(String body) {
        return CompletableFuture.completedFuture("echo:" + body);
    }

    @Test
    void callRoundTripsOverUnixSocket() throws Exception {
        try (EmbeddedSwitch sw = unixSwitch();
             SwitchQueueServer server = SwitchQueueServer.start(SwitchAddress.unix(dir.resolve("sock")), "org.xen.test.echo", 4,
                     RpcRoundTripIT::echo, PATIENT);
             SwitchRpcClient client = SwitchRpcClient.connect(SwitchAddress.unix(dir.resolve("sock")), "test", PATIENT)) {
            assertEquals("echo:{\"method\":\"Query.query\"}", client.call("org.xen.test.echo", "{\"method\":\"Query.query\"}", CALL));
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("sock"))));
            assertTrue(Soon.get(client.list("org.xen.test", false)).contains("org.xen.test.echo"));
            assertTrue(Soon.get(client.list("org.xen.test", true)).contains("org.xen.test.echo"));
        }
    }

    @Test
    void callRoundTripsOverTcp() throws Exception {
        try (EmbeddedSwitch sw = EmbeddedSwitch.start(Optional.empty(),
                Optional.of(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)), dir.resolve("state"))) {
            SwitchAddress addr = SwitchAddress.tcp("127.0.0.1", sw.tcpPort());
            try (SwitchQueueServer server = SwitchQueueServer.start(addr, "org.xen.test.echo", 4, RpcRoundTripIT::echo, PATIENT);
                 SwitchRpcClient client = SwitchRpcClient.connect(addr, "test", PATIENT)) {
                assertEquals("echo:ü ∀ 😀", client.call("org.xen.test.echo", "ü ∀ 😀", CALL));
            }
        }
    }

    @Test
    void manyConcurrentCallersEachGetTheirOwnReply() throws Exception {
        SwitchAddress addr = SwitchAddress.unix(dir.resolve("sock"));
        try (EmbeddedSwitch sw = unixSwitch();
             SwitchQueueServer server = SwitchQueueServer.start(addr, "org.xen.test.echo", 8, RpcRoundTripIT::echo, PATIENT);
             SwitchRpcClient a = SwitchRpcClient.connect(addr, "a", PATIENT);
             SwitchRpcClient b = SwitchRpcClient.connect(addr, "b", PATIENT)) {
            // 2000 calls issued at once, each timed from its start: the backlog gets twice the usual bound
            Duration backlog = Soon.times(2);
            List<CompletableFuture<String>> calls = new ArrayList<>();
            for (int i = 0; i < 2000; i++) {
                calls.add((i % 2 == 0 ? a : b).callAsync("org.xen.test.echo", "call-" + i, backlog));
            }
            for (int i = 0; i < calls.size(); i++) {
                assertEquals("echo:call-" + i, Soon.get(calls.get(i), backlog));
            }
        }
    }

    @Test
    void callToAMissingQueueFailsAtOnceWithNoSuchQueue() {
        try (EmbeddedSwitch sw = unixSwitch();
             SwitchRpcClient client = SwitchRpcClient.connect(SwitchAddress.unix(dir.resolve("sock")), "test", PATIENT)) {
            // a timeout far beyond any wait: only the switch's "no such queue" can end the call
            SwitchException e = assertThrows(SwitchException.class,
                    () -> client.call("org.xen.nobody.here", "{}", Soon.times(5)));
            assertEquals(SwitchException.Kind.NO_SUCH_QUEUE, e.kind());
            assertEquals("org.xen.nobody.here", e.queue());
        }
    }

    @Test
    void callToAnUnservedQueueTimesOut() throws Exception {
        SwitchAddress addr = SwitchAddress.unix(dir.resolve("sock"));
        try (EmbeddedSwitch sw = unixSwitch();
             SwitchRpcClient client = SwitchRpcClient.connect(addr, "test", PATIENT)) {
            SwitchConnection raw = Soon.get(SwitchConnection.open(addr, Transports.sharedClientGroup(), PATIENT));
            Soon.get(raw.login("creator"));
            Soon.get(raw.createPersistent("org.xen.test.unserved"));
            raw.close();
            // the timeout is what is tested: nobody serves the queue, so nothing but it can end the call
            SwitchException e = assertThrows(SwitchException.class,
                    () -> client.call("org.xen.test.unserved", "{}", Duration.ofMillis(300)));
            assertEquals(SwitchException.Kind.TIMEOUT, e.kind());
        }
    }

    @Test
    void connectingToNoSwitchFailsDisconnected() {
        SwitchException e = assertThrows(SwitchException.class,
                () -> SwitchRpcClient.connect(SwitchAddress.unix(dir.resolve("nothing")), "test"));
        assertEquals(SwitchException.Kind.DISCONNECTED, e.kind());
    }

    @Test
    void pipelinedAnswersMeetTheirRequestsWhetherSentFromTheLoopOrFromOtherThreads() throws Exception {
        try (EmbeddedSwitch sw = unixSwitch()) {
            SwitchConnection c = Soon.get(SwitchConnection.open(SwitchAddress.unix(dir.resolve("sock")),
                    Transports.sharedClientGroup(), PATIENT));
            Soon.get(c.login("pipelining"));
            // a chain that sends its next request from the completion callback, i.e. on the event loop
            CompletableFuture<Integer> loopChain = new CompletableFuture<>();
            chain(c, 0, 2000, loopChain);
            List<Thread> outside = new ArrayList<>();
            List<String> mismatches = java.util.Collections.synchronizedList(new ArrayList<>());
            for (int t = 0; t < 4; t++) {
                int id = t;
                Thread th = new Thread(() -> {
                    try {
                        for (int i = 0; i < 500; i++) {
                            String name = "ext-" + id + "-" + i;
                            String got = c.createPersistent(name).join();
                            if (!got.equals(name)) {
                                mismatches.add(name + " answered as " + got);
                            }
                        }
                    } catch (RuntimeException e) {
                        mismatches.add("ext-" + id + " failed: " + e);
                    }
                });
                th.start();
                outside.add(th);
            }
            for (Thread th : outside) {
                th.join(Soon.millis());
                assertFalse(th.isAlive(), "a thread's 500 requests were not all answered");
            }
            assertEquals(2000, Soon.get(loopChain));
            assertEquals(List.of(), mismatches);
            c.close();
        }
    }

    private static void chain(SwitchConnection c, int i, int n, CompletableFuture<Integer> done) {
        if (i == n) {
            done.complete(i);
            return;
        }
        String name = "loop-" + i;
        c.createTransient(name).whenComplete((got, e) -> {
            if (e != null || !got.equals(name)) {
                done.completeExceptionally(new AssertionError(name + " answered as " + got, e));
            } else {
                chain(c, i + 1, n, done);
            }
        });
    }
}
