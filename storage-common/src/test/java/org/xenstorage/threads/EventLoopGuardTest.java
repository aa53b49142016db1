package org.xenstorage.threads;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.Test;
import org.xenstorage.testing.Soon;

class EventLoopGuardTest {
    @Test
    void aBlockingCallFailsOnlyOnAMarkedThread() throws Exception {
        assertFalse(EventLoopGuard.onEventLoop());
        assertDoesNotThrow(() -> EventLoopGuard.check("a wait on an ordinary thread", true));
        ExecutorService loop = Executors.newSingleThreadExecutor(
                EventLoopGuard.marking(Executors.defaultThreadFactory()));
        try {
            Throwable seen = Soon.get(CompletableFuture.supplyAsync(() -> {
                // warn mode (production's default) reports and goes on; fail mode (the test suite's) throws
                EventLoopGuard.check("a reported wait on an event loop", false);
                try {
                    EventLoopGuard.check("a wait on an event loop", true);
                    return null;
                } catch (RuntimeException e) {
                    return e;
                }
            }, loop));
            assertInstanceOf(IllegalStateException.class, seen);
            assertTrue(seen.getMessage().contains("a wait on an event loop"), seen.getMessage());
            assertTrue(Soon.get(CompletableFuture.supplyAsync(EventLoopGuard::onEventLoop, loop)));
        } finally {
            loop.shutdownNow();
        }
    }
}
