package org.xenstorage.messageswitch.broker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.messageswitch.client.SwitchAddress;
import org.xenstorage.messageswitch.client.SwitchConnection;
import org.xenstorage.messageswitch.client.SwitchException;
import org.xenstorage.messageswitch.client.SwitchOptions;
import org.xenstorage.messageswitch.client.SwitchQueueServer;
import org.xenstorage.messageswitch.client.SwitchRpcClient;
import org.xenstorage.messageswitch.client.Transports;

/** Client and queue server against the real embedded broker, over a Unix socket and over TCP. */
class RpcRoundTripIT {
    private static final Duration CALL = Duration.ofSeconds(10);

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
                     RpcRoundTripIT::echo);
             SwitchRpcClient client = SwitchRpcClient.connect(SwitchAddress.unix(dir.resolve("sock")), "test")) {
            assertEquals("echo:{\"method\":\"Query.query\"}", client.call("org.xen.test.echo", "{\"method\":\"Query.query\"}", CALL));
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("sock"))));
            assertTrue(client.list("org.xen.test", false).get(5, TimeUnit.SECONDS).contains("org.xen.test.echo"));
            assertTrue(client.list("org.xen.test", true).get(5, TimeUnit.SECONDS).contains("org.xen.test.echo"));
        }
    }

    @Test
    void callRoundTripsOverTcp() throws Exception {
        try (EmbeddedSwitch sw = EmbeddedSwitch.start(Optional.empty(),
                Optional.of(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)), dir.resolve("state"))) {
            SwitchAddress addr = SwitchAddress.tcp("127.0.0.1", sw.tcpPort());
            try (SwitchQueueServer server = SwitchQueueServer.start(addr, "org.xen.test.echo", 4, RpcRoundTripIT::echo);
                 SwitchRpcClient client = SwitchRpcClient.connect(addr, "test")) {
                assertEquals("echo:ü ∀ 😀", client.call("org.xen.test.echo", "ü ∀ 😀", CALL));
            }
        }
    }

    @Test
    void manyConcurrentCallersEachGetTheirOwnReply() throws Exception {
        SwitchAddress addr = SwitchAddress.unix(dir.resolve("sock"));
        try (EmbeddedSwitch sw = unixSwitch();
             SwitchQueueServer server = SwitchQueueServer.start(addr, "org.xen.test.echo", 8, RpcRoundTripIT::echo);
             SwitchRpcClient a = SwitchRpcClient.connect(addr, "a");
             SwitchRpcClient b = SwitchRpcClient.connect(addr, "b")) {
            List<CompletableFuture<String>> calls = new ArrayList<>();
            for (int i = 0; i < 2000; i++) {
                calls.add((i % 2 == 0 ? a : b).callAsync("org.xen.test.echo", "call-" + i, CALL));
            }
            for (int i = 0; i < calls.size(); i++) {
                assertEquals("echo:call-" + i, calls.get(i).get(30, TimeUnit.SECONDS));
            }
        }
    }

    @Test
    void callToAMissingQueueFailsAtOnceWithNoSuchQueue() {
        try (EmbeddedSwitch sw = unixSwitch();
             SwitchRpcClient client = SwitchRpcClient.connect(SwitchAddress.unix(dir.resolve("sock")), "test")) {
            SwitchException e = assertThrows(SwitchException.class,
                    () -> client.call("org.xen.nobody.here", "{}", Duration.ofMinutes(5)));
            assertEquals(SwitchException.Kind.NO_SUCH_QUEUE, e.kind());
            assertEquals("org.xen.nobody.here", e.queue());
        }
    }

    @Test
    void callToAnUnservedQueueTimesOut() throws Exception {
        SwitchAddress addr = SwitchAddress.unix(dir.resolve("sock"));
        try (EmbeddedSwitch sw = unixSwitch();
             SwitchRpcClient client = SwitchRpcClient.connect(addr, "test")) {
            SwitchConnection raw = SwitchConnection.open(addr, Transports.sharedClientGroup(), SwitchOptions.defaults())
                    .get(5, TimeUnit.SECONDS);
            raw.login("creator").get(5, TimeUnit.SECONDS);
            raw.createPersistent("org.xen.test.unserved").get(5, TimeUnit.SECONDS);
            raw.close();
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
            SwitchConnection c = SwitchConnection.open(SwitchAddress.unix(dir.resolve("sock")), Transports.sharedClientGroup(),
                    SwitchOptions.defaults()).get(5, TimeUnit.SECONDS);
            c.login("pipelining").get(5, TimeUnit.SECONDS);
            // a chain that sends its next request from the completion callback, i.e. on the event loop
            CompletableFuture<Integer> loopChain = new CompletableFuture<>();
            chain(c, 0, 2000, loopChain);
            List<Thread> outside = new ArrayList<>();
            List<String> mismatches = java.util.Collections.synchronizedList(new ArrayList<>());
            for (int t = 0; t < 4; t++) {
                int id = t;
                Thread th = new Thread(() -> {
                    for (int i = 0; i < 500; i++) {
                        String name = "ext-" + id + "-" + i;
                        String got = c.createPersistent(name).join();
                        if (!got.equals(name)) {
                            mismatches.add(name + " answered as " + got);
                        }
                    }
                });
                th.start();
                outside.add(th);
            }
            for (Thread th : outside) {
                th.join(60_000);
            }
            assertEquals(2000, loopChain.get(60, TimeUnit.SECONDS));
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
