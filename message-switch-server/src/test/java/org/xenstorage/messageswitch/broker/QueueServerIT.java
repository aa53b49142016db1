package org.xenstorage.messageswitch.broker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.xenstorage.messageswitch.broker.TestSwitches.PATIENT;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
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
import org.xenstorage.testing.Soon;

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
        // the first requests hold their replies until the test has seen the cap reached: whether 150 ms of
        // handling overlaps the next deliveries must not depend on how busy the machine is
        CompletableFuture<Void> release = new CompletableFuture<>();
        try (SwitchQueueServer server = SwitchQueueServer.start(addr, "org.xen.test.slow", cap, body -> {
                 invocations.incrementAndGet();
                 maxRunning.accumulateAndGet(running.incrementAndGet(), Math::max);
                 CompletableFuture<String> f = new CompletableFuture<>();
                 // completes later from another thread: the handler itself never blocks
                 release.thenRun(() -> timer.schedule(() -> {
                     running.decrementAndGet();
                     f.complete("done:" + body);
                 }, 150, TimeUnit.MILLISECONDS));
                 return f;
             }, PATIENT);
             SwitchRpcClient client = SwitchRpcClient.connect(addr, "cap-test", PATIENT)) {
            List<CompletableFuture<String>> calls = new ArrayList<>();
            for (int i = 0; i < 3 * cap; i++) {
                calls.add(client.callAsync("org.xen.test.slow", "r" + i, Soon.timeout()));
            }
            Soon.await("the cap is used fully under a backlog: " + cap + " requests run at once",
                    () -> running.get() >= cap);
            release.complete(null);
            Set<String> replies = new HashSet<>();
            for (int i = 0; i < calls.size(); i++) {
                String reply = Soon.get(calls.get(i));
                assertEquals("done:r" + i, reply);
                replies.add(reply);
            }
            assertEquals(3 * cap, replies.size());
            assertEquals(3 * cap, invocations.get(), "each request handled exactly once");
            assertTrue(maxRunning.get() <= cap, "never more than the cap at once, saw " + maxRunning.get());
            assertEquals(cap, maxRunning.get(), "the cap is used fully under a backlog");
            // served counts a request once its ack is answered, which can be after the caller has its reply
            Soon.await("the server has served every request", () -> server.served() >= 3L * cap);
            assertEquals(3L * cap, server.served());
            // every request was acked after its reply (the switch answers an ack once done): nothing left
            assertTrue(sw.table().snapshot(0, 0).permanentQueues().get("org.xen.test.slow").contents().isEmpty(),
                    "requests left on the service queue");
        }
    }

    @Test
    void aFailingHandlerSendsNoReplyAndTheCallerTimesOutButTheServerCarriesOn() throws Exception {
        AtomicInteger failures = new AtomicInteger();
        // fails on its body, not on being first: a request "x" delivered late, together with "y", may be
        // handed to the handler after it on another thread
        try (SwitchQueueServer server = SwitchQueueServer.start(addr, "org.xen.test.flaky", 2, body -> {
                 if (body.equals("x")) {
                     failures.incrementAndGet();
                     throw new IllegalStateException("boom");
                 }
                 return CompletableFuture.completedFuture("fine");
             }, PATIENT);
             SwitchRpcClient client = SwitchRpcClient.connect(addr, "flaky-test", PATIENT)) {
            SwitchException e = assertThrows(SwitchException.class,
                    () -> client.call("org.xen.test.flaky", "x", Duration.ofMillis(500)));
            assertEquals(SwitchException.Kind.TIMEOUT, e.kind());
            assertEquals("fine", client.call("org.xen.test.flaky", "y", Soon.timeout()));
            // both were handled once and acked, the failed one without a reply
            Soon.await("the server acked both requests", () -> server.served() >= 2);
            assertEquals(2, server.served());
            assertEquals(1, failures.get(), "the handler failed once, on x");
        }
    }

    @Test
    void aClientsTransientReplyQueueGoesWhenTheClientGoes() throws Exception {
        SwitchRpcClient client = SwitchRpcClient.connect(addr, "transient-test", PATIENT);
        String reply = client.replyQueue();
        assertTrue(sw.table().list("client-", false).contains(reply));
        client.close();
        Soon.await("the reply queue goes with its client", () -> !sw.table().list("client-", false).contains(reply));
        assertFalse(sw.table().exists(reply));
    }

    @Test
    void aliveListingForgetsAQueueWhenItsPollerDisconnects() throws Exception {
        SwitchQueueServer server = SwitchQueueServer.start(addr, "org.xen.test.alive", 1,
                b -> CompletableFuture.completedFuture(b), PATIENT);
        Soon.await("the served queue is listed alive",
                () -> sw.table().list("org.xen.test.alive", true).contains("org.xen.test.alive"));
        server.close();
        Soon.await("the queue is no longer alive once its poller is gone",
                () -> sw.table().list("org.xen.test.alive", true).isEmpty());
        assertTrue(sw.table().list("org.xen.test.alive", false).contains("org.xen.test.alive"), "the queue itself stays");
    }

    @Test
    void concurrentCallersFromManyThreadsAllComplete() throws Exception {
        try (SwitchQueueServer server = SwitchQueueServer.start(addr, "org.xen.test.echo", 16,
                     b -> CompletableFuture.completedFuture(b), PATIENT);
             SwitchRpcClient client = SwitchRpcClient.connect(addr, "threads", PATIENT)) {
            Set<String> seen = ConcurrentHashMap.newKeySet();
            List<Throwable> errors = new CopyOnWriteArrayList<>();
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 16; t++) {
                int id = t;
                Thread th = new Thread(() -> {
                    try {
                        for (int i = 0; i < 100; i++) {
                            String body = id + ":" + i;
                            seen.add(client.call("org.xen.test.echo", body, Soon.timeout()).equals(body) ? body : "WRONG");
                        }
                    } catch (RuntimeException e) {
                        errors.add(e);
                    }
                });
                th.start();
                threads.add(th);
            }
            // 1600 calls in all: a longer job than one call, so a longer wait
            long deadline = System.nanoTime() + Soon.times(2).toNanos();
            for (Thread t : threads) {
                t.join(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
                assertFalse(t.isAlive(), "a caller is still calling after " + Soon.times(2).toSeconds() + " s");
            }
            assertEquals(List.of(), errors);
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
             }, PATIENT, Runnable::run);
             SwitchRpcClient client = SwitchRpcClient.connect(addr, "inline", PATIENT)) {
            List<CompletableFuture<String>> calls = new ArrayList<>();
            for (int i = 0; i < 30; i++) {
                calls.add(client.callAsync("org.xen.test.inline", "x" + i, Soon.timeout()));
            }
            for (int i = 0; i < calls.size(); i++) {
                assertEquals("X" + i, Soon.get(calls.get(i)));
            }
            assertTrue(maxRunning.get() <= cap, "saw " + maxRunning.get());
        }
    }

    @Test
    void aBlockingCallFromAnInlineHandlerIsRefusedInsteadOfDeadlocking() throws Exception {
        try (SwitchRpcClient client = SwitchRpcClient.connect(addr, "nested", PATIENT);
             SwitchQueueServer inner = SwitchQueueServer.start(addr, "org.xen.test.inner", 1,
                     b -> CompletableFuture.completedFuture("inner"), PATIENT);
             SwitchQueueServer outer = SwitchQueueServer.start(addr, "org.xen.test.outer", 1, body -> {
                 try {
                     // never waited for: refused at once (were it not, the loop would block for these 5 s)
                     return CompletableFuture.completedFuture(client.call("org.xen.test.inner", body, Duration.ofSeconds(5)));
                 } catch (IllegalStateException e) {
                     return CompletableFuture.completedFuture("refused: " + e.getMessage());
                 }
             }, PATIENT, Runnable::run)) {
            String reply = client.call("org.xen.test.outer", "x", Soon.timeout());
            assertTrue(reply.startsWith("refused: ") && reply.contains("callAsync"), reply);
            // the refusal left the client and both servers working
            assertEquals("inner", Soon.get(client.callAsync("org.xen.test.inner", "y", Soon.timeout())));
        }
    }
}
