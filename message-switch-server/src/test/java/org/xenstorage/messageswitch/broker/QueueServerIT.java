package org.xenstorage.messageswitch.broker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.messageswitch.client.SwitchAddress;
import org.xenstorage.messageswitch.client.SwitchException;
import org.xenstorage.messageswitch.client.SwitchQueueServer;
import org.xenstorage.messageswitch.client.SwitchRpcClient;

/** The queue server's promises: the concurrency cap, one reply per request, ack after reply, transient cleanup. */
class QueueServerIT {
    @TempDir
    Path dir;
    private EmbeddedSwitch sw;
    private SwitchAddress addr;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();

    @BeforeEach
    void start() {
        sw = EmbeddedSwitch.start(Optional.of(dir.resolve("sock")), Optional.empty(), dir.resolve("state"));
        addr = SwitchAddress.unix(dir.resolve("sock"));
    }

    @AfterEach
    void stop() {
        timer.shutdownNow();
        sw.close();
    }

    @Test
    void threeTimesTheCapOfSlowRequestsNeverRunsMoreThanTheCapAndEachGetsOneReply() throws Exception {
        int cap = 4;
        AtomicInteger running = new AtomicInteger();
        AtomicInteger maxRunning = new AtomicInteger();
        AtomicInteger invocations = new AtomicInteger();
        try (SwitchQueueServer server = SwitchQueueServer.start(addr, "org.xen.test.slow", cap, body -> {
                 invocations.incrementAndGet();
                 maxRunning.accumulateAndGet(running.incrementAndGet(), Math::max);
                 CompletableFuture<String> f = new CompletableFuture<>();
                 // completes later from another thread: the handler itself never blocks
                 timer.schedule(() -> {
                     running.decrementAndGet();
                     f.complete("done:" + body);
                 }, 150, TimeUnit.MILLISECONDS);
                 return f;
             });
             SwitchRpcClient client = SwitchRpcClient.connect(addr, "cap-test")) {
            List<CompletableFuture<String>> calls = new ArrayList<>();
            for (int i = 0; i < 3 * cap; i++) {
                calls.add(client.callAsync("org.xen.test.slow", "r" + i, Duration.ofSeconds(30)));
            }
            Set<String> replies = new HashSet<>();
            for (int i = 0; i < calls.size(); i++) {
                String reply = calls.get(i).get(60, TimeUnit.SECONDS);
                assertEquals("done:r" + i, reply);
                replies.add(reply);
            }
            assertEquals(3 * cap, replies.size());
            assertEquals(3 * cap, invocations.get(), "each request handled exactly once");
            assertTrue(maxRunning.get() <= cap, "never more than the cap at once, saw " + maxRunning.get());
            assertEquals(cap, maxRunning.get(), "the cap is used fully under a backlog");
            // every request was acked after its reply: nothing left on the service queue
            waitUntil(() -> sw.table().snapshot(0, 0).permanentQueues().get("org.xen.test.slow").contents().isEmpty());
            assertEquals(3L * cap, server.served());
        }
    }

    @Test
    void aFailingHandlerSendsNoReplyAndTheCallerTimesOutButTheServerCarriesOn() throws Exception {
        AtomicInteger n = new AtomicInteger();
        try (SwitchQueueServer server = SwitchQueueServer.start(addr, "org.xen.test.flaky", 2, body -> {
                 if (n.incrementAndGet() == 1) {
                     throw new IllegalStateException("boom");
                 }
                 return CompletableFuture.completedFuture("fine");
             });
             SwitchRpcClient client = SwitchRpcClient.connect(addr, "flaky-test")) {
            SwitchException e = assertThrows(SwitchException.class,
                    () -> client.call("org.xen.test.flaky", "x", Duration.ofMillis(500)));
            assertEquals(SwitchException.Kind.TIMEOUT, e.kind());
            assertEquals("fine", client.call("org.xen.test.flaky", "y", Duration.ofSeconds(10)));
        }
    }

    @Test
    void aClientsTransientReplyQueueGoesWhenTheClientGoes() throws Exception {
        SwitchRpcClient client = SwitchRpcClient.connect(addr, "transient-test");
        String reply = client.replyQueue();
        assertTrue(sw.table().list("client-", false).contains(reply));
        client.close();
        waitUntil(() -> !sw.table().list("client-", false).contains(reply));
        assertFalse(sw.table().exists(reply));
    }

    @Test
    void aliveListingForgetsAQueueWhenItsPollerDisconnects() throws Exception {
        SwitchQueueServer server = SwitchQueueServer.start(addr, "org.xen.test.alive", 1,
                b -> CompletableFuture.completedFuture(b));
        waitUntil(() -> sw.table().list("org.xen.test.alive", true).contains("org.xen.test.alive"));
        server.close();
        waitUntil(() -> sw.table().list("org.xen.test.alive", true).isEmpty());
        assertTrue(sw.table().list("org.xen.test.alive", false).contains("org.xen.test.alive"), "the queue itself stays");
    }

    @Test
    void concurrentCallersFromManyThreadsAllComplete() throws Exception {
        try (SwitchQueueServer server = SwitchQueueServer.start(addr, "org.xen.test.echo", 16,
                     b -> CompletableFuture.completedFuture(b));
             SwitchRpcClient client = SwitchRpcClient.connect(addr, "threads")) {
            Set<String> seen = ConcurrentHashMap.newKeySet();
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 16; t++) {
                int id = t;
                Thread th = new Thread(() -> {
                    for (int i = 0; i < 100; i++) {
                        String body = id + ":" + i;
                        seen.add(client.call("org.xen.test.echo", body, Duration.ofSeconds(30)).equals(body) ? body : "WRONG");
                    }
                });
                th.start();
                threads.add(th);
            }
            for (Thread t : threads) {
                t.join(60_000);
            }
            assertFalse(seen.contains("WRONG"));
            assertEquals(1600, seen.size());
        }
    }

    @Test
    void handlersMayRunInlineOnTheEventLoopAndStillRespectTheCap() throws Exception {
        int cap = 3;
        AtomicInteger running = new AtomicInteger();
        AtomicInteger maxRunning = new AtomicInteger();
        try (SwitchQueueServer server = SwitchQueueServer.start(addr, "org.xen.test.inline", cap, body -> {
                 maxRunning.accumulateAndGet(running.incrementAndGet(), Math::max);
                 CompletableFuture<String> f = new CompletableFuture<>();
                 timer.schedule(() -> {
                     running.decrementAndGet();
                     f.complete(body.toUpperCase(java.util.Locale.ROOT));
                 }, 20, TimeUnit.MILLISECONDS);
                 return f;
             }, org.xenstorage.messageswitch.client.SwitchOptions.defaults(), Runnable::run);
             SwitchRpcClient client = SwitchRpcClient.connect(addr, "inline")) {
            List<CompletableFuture<String>> calls = new ArrayList<>();
            for (int i = 0; i < 30; i++) {
                calls.add(client.callAsync("org.xen.test.inline", "x" + i, Duration.ofSeconds(30)));
            }
            for (int i = 0; i < calls.size(); i++) {
                assertEquals("X" + i, calls.get(i).get(60, TimeUnit.SECONDS));
            }
            assertTrue(maxRunning.get() <= cap, "saw " + maxRunning.get());
        }
    }

    @Test
    void aBlockingCallFromAnInlineHandlerIsRefusedInsteadOfDeadlocking() throws Exception {
        try (SwitchRpcClient client = SwitchRpcClient.connect(addr, "nested");
             SwitchQueueServer inner = SwitchQueueServer.start(addr, "org.xen.test.inner", 1,
                     b -> CompletableFuture.completedFuture("inner"));
             SwitchQueueServer outer = SwitchQueueServer.start(addr, "org.xen.test.outer", 1, body -> {
                 try {
                     return CompletableFuture.completedFuture(client.call("org.xen.test.inner", body, Duration.ofSeconds(5)));
                 } catch (IllegalStateException e) {
                     return CompletableFuture.completedFuture("refused: " + e.getMessage());
                 }
             }, org.xenstorage.messageswitch.client.SwitchOptions.defaults(), Runnable::run)) {
            String reply = client.call("org.xen.test.outer", "x", Duration.ofSeconds(20));
            assertTrue(reply.startsWith("refused: ") && reply.contains("callAsync"), reply);
            // the refusal left the client and both servers working
            assertEquals("inner", client.callAsync("org.xen.test.inner", "y", Duration.ofSeconds(20)).get(30, TimeUnit.SECONDS));
        }
    }

    static void waitUntil(java.util.function.BooleanSupplier cond) throws InterruptedException {
        org.xenstorage.testing.Soon.await("condition", cond::getAsBoolean);
    }
}
