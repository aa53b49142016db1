package org.xenstorage.messageswitch.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class InProcessQueuesTest {
    private static final Duration LONG = Duration.ofMinutes(5);

    @Test
    void aQueueNotServedHereIsLeftToTheSwitch() {
        InProcessQueues q = new InProcessQueues();
        assertTrue(q.call("org.xen.xapi.storage.x", "{}", LONG).isEmpty());
    }

    @Test
    void theRequestTextReachesTheHandlerAndTheReplyComesBackUnchanged() throws Exception {
        InProcessQueues q = new InProcessQueues();
        String request = "{\"method\":\"VDI.stat\",\"params\":[{\"dbg\":\"d-é\\\"\",\"sr\":\"s\"}],\"id\":7}";
        List<String> seen = new ArrayList<>();
        q.register("q", 4, body -> {
            seen.add(body);
            return CompletableFuture.completedFuture("reply:" + body);
        });
        assertEquals("reply:" + request, q.call("q", request, LONG).orElseThrow().get(1, TimeUnit.MINUTES));
        assertSame(request, seen.get(0));
    }

    @Test
    void atMostTheWindowRunsAtOnceAndTheRestWaitInOrder() throws Exception {
        InProcessQueues q = new InProcessQueues();
        List<String> started = new ArrayList<>();
        List<CompletableFuture<String>> answers = new ArrayList<>();
        q.register("q", 2, body -> {
            synchronized (started) {
                started.add(body);
                CompletableFuture<String> a = new CompletableFuture<>();
                answers.add(a);
                return a;
            }
        });
        List<CompletableFuture<String>> replies = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            replies.add(q.call("q", "r" + i, LONG).orElseThrow());
        }
        assertEquals(List.of("r0", "r1"), started);
        answers.get(1).complete("a1");
        assertEquals("a1", replies.get(1).get(1, TimeUnit.MINUTES));
        assertEquals(List.of("r0", "r1", "r2"), started);
        answers.get(0).complete("a0");
        answers.get(2).complete("a2");
        assertEquals(List.of("r0", "r1", "r2", "r3", "r4"), started);
        answers.get(3).complete("a3");
        answers.get(4).complete("a4");
        for (int i = 0; i < 5; i++) {
            assertEquals("a" + i, replies.get(i).get(1, TimeUnit.MINUTES));
        }
    }

    @Test
    void synchronousAnswersDrainTheWaitingRequests() throws Exception {
        InProcessQueues q = new InProcessQueues();
        CompletableFuture<String> first = new CompletableFuture<>();
        List<String> started = new ArrayList<>();
        q.register("q", 1, body -> {
            started.add(body);
            return body.equals("slow") ? first : CompletableFuture.completedFuture("fast " + body);
        });
        CompletableFuture<String> slow = q.call("q", "slow", LONG).orElseThrow();
        List<CompletableFuture<String>> quick = new ArrayList<>();
        for (int i = 0; i < 1000; i++) { // deep enough to overflow the stack if each ran the next recursively
            quick.add(q.call("q", "n" + i, LONG).orElseThrow());
        }
        assertEquals(1, started.size());
        first.complete("done");
        assertEquals("done", slow.get(1, TimeUnit.MINUTES));
        assertEquals("fast n999", quick.get(999).get(1, TimeUnit.MINUTES));
        assertEquals(1001, started.size());
    }

    @Test
    void noReplyWithinTheTimeoutIsTheSwitchsTimeout() {
        InProcessQueues q = new InProcessQueues();
        q.register("q", 1, body -> new CompletableFuture<>());
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> q.call("q", "x", Duration.ofMillis(20)).orElseThrow().get(1, TimeUnit.MINUTES));
        SwitchException se = assertInstanceOf(SwitchException.class, e.getCause());
        assertEquals(SwitchException.Kind.TIMEOUT, se.kind());
        assertEquals("no reply from q within 20 ms", se.getMessage());
    }

    @Test
    void aRequestThatTimedOutWhileWaitingIsNeverRun() throws Exception {
        InProcessQueues q = new InProcessQueues();
        CompletableFuture<String> blocker = new CompletableFuture<>();
        List<String> started = new ArrayList<>();
        q.register("q", 1, body -> {
            started.add(body);
            return body.equals("first") ? blocker : CompletableFuture.completedFuture(body);
        });
        q.call("q", "first", LONG).orElseThrow();
        CompletableFuture<String> late = q.call("q", "late", Duration.ofMillis(10)).orElseThrow();
        assertThrows(ExecutionException.class, () -> late.get(1, TimeUnit.MINUTES));
        CompletableFuture<String> after = q.call("q", "after", LONG).orElseThrow();
        blocker.complete("ok");
        assertEquals("after", after.get(1, TimeUnit.MINUTES));
        assertEquals(List.of("first", "after"), started);
    }

    @Test
    void aThrowingOrFailingHandlerFailsTheCallAndFreesItsSlot() throws Exception {
        InProcessQueues q = new InProcessQueues();
        IllegalStateException boom = new IllegalStateException("boom");
        q.register("q", 1, body -> switch (body) {
            case "throw" -> throw boom;
            case "fail" -> CompletableFuture.failedFuture(new IllegalArgumentException("bad"));
            default -> CompletableFuture.completedFuture("ok");
        });
        ExecutionException thrown = assertThrows(ExecutionException.class,
                () -> q.call("q", "throw", LONG).orElseThrow().get(1, TimeUnit.MINUTES));
        assertSame(boom, thrown.getCause());
        ExecutionException failed = assertThrows(ExecutionException.class,
                () -> q.call("q", "fail", LONG).orElseThrow().get(1, TimeUnit.MINUTES));
        assertInstanceOf(IllegalArgumentException.class, failed.getCause());
        assertEquals("ok", q.call("q", "x", LONG).orElseThrow().get(1, TimeUnit.MINUTES));
    }

    @Test
    void closingARegistrationLeavesTheQueueToTheSwitchButNotAReplacement() throws Exception {
        InProcessQueues q = new InProcessQueues();
        InProcessQueues.Registration old = q.register("q", 1, b -> CompletableFuture.completedFuture("old"));
        InProcessQueues.Registration current = q.register("q", 1, b -> CompletableFuture.completedFuture("new"));
        old.close(); // the replaced registration must not remove its successor
        assertEquals("new", q.call("q", "x", LONG).orElseThrow().get(1, TimeUnit.MINUTES));
        assertEquals(java.util.Set.of("q"), q.queues());
        current.close();
        assertFalse(q.call("q", "x", LONG).isPresent());
        assertTrue(q.queues().isEmpty());
    }
}
