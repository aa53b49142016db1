package org.xenstorage.logging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.MDC;

/** The dbg a caller sends cannot break a log line, and a call's context follows it across threads. */
class CallContextTest {

    @AfterEach
    void clear() {
        MDC.clear();
    }

    @Test
    void aPlainDbgIsKeptAsItIs() {
        String dbg = "smctl-host1-1f2e3d4c VM.start R:8b3e|OpaqueRef:ab-cd";
        assertSame(dbg, CallContext.sanitise(dbg));
        assertEquals("", CallContext.sanitise(null));
        assertEquals("dénommé ☃ 日本", CallContext.sanitise("dénommé ☃ 日本"));
    }

    @Test
    void newlinesAndControlCharactersBecomeEscapesSoNoLineCanBeForged() {
        String forged = "x\n2026-12-03T09:00:00.000Z INFO  [mux-worker-1] o.x.d.r.Mux queue=q dbg=victim ok";
        String clean = CallContext.sanitise(forged);
        assertFalse(clean.contains("\n"), clean);
        assertTrue(clean.startsWith("x\\n2026-12-03T09"), clean);
        assertEquals("a\\rb\\tc\\x1b[31md\\x00e\\x7ff\\x85g",
                CallContext.sanitise("a\rb\tc\u001b[31md\u0000e\u007ff\u0085g"));
        assertEquals("l\\u2028p\\u2029r\\u202eo\\u2066", CallContext.sanitise("l\u2028p\u2029r\u202eo\u2066"));
        for (char c = 0; c < 0x10000 - 1; c++) {
            String s = CallContext.sanitise("a" + c);
            assertTrue(s.chars().noneMatch(ch -> ch == '\n' || ch == '\r' || ch == '\u2028' || ch == '\u2029'
                    || ch == '\u0085' || Character.isISOControl(ch)), () -> "escaped " + s);
        }
    }

    @Test
    void theLogPartIsWhatPrecedesTheFirstNewline() {
        assertEquals("VM.start R:8b3e", CallContext.logPart("VM.start R:8b3e\n00-0af7-b7ad-01\nmore"));
        assertEquals("plain", CallContext.logPart("plain"));
        assertEquals("", CallContext.logPart("\ntrace only"));
        assertEquals("", CallContext.logPart(null));
    }

    @Test
    void aLongDbgIsCutAndMarked() {
        String longDbg = "d".repeat(10_000);
        String clean = CallContext.sanitise(longDbg);
        assertEquals(CallContext.MAX_CHARS + 3, clean.length());
        assertTrue(clean.endsWith("d..."));
        assertEquals("ab...", CallContext.sanitise("abc", 2));
    }

    @Test
    void enterSetsTheCallAndClosingRestoresTheCallerOfTheSameThread() {
        MDC.put(CallContext.QUEUE, "org.xen.xapi.storage");
        MDC.put(CallContext.DBG, "outer");
        try (CallContext.Scope s = CallContext.enter("org.xen.xapi.storage.localfile",
                "inner\rforged\n00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")) {
            assertEquals("org.xen.xapi.storage.localfile", MDC.get(CallContext.QUEUE));
            assertEquals("inner\\rforged", MDC.get(CallContext.DBG), "the log part, sanitised");
        }
        assertEquals("org.xen.xapi.storage", MDC.get(CallContext.QUEUE));
        assertEquals("outer", MDC.get(CallContext.DBG));
        MDC.clear();
        try (CallContext.Scope s = CallContext.enter("q", "")) {
            assertNull(MDC.get(CallContext.DBG), "an empty dbg prints as the pattern's default");
        }
        assertNull(MDC.get(CallContext.QUEUE));
    }

    @Test
    void wrappedWorkAndPropagatingExecutorsCarryTheSubmittersContextAndLeaveNothingBehind() throws Exception {
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            pool.submit(() -> MDC.put(CallContext.DBG, "left-over")).get(); // a previous user of the thread
            String seen;
            try (CallContext.Scope s = CallContext.enter("q", "call-1")) {
                seen = CompletableFuture.supplyAsync(CallContext.wrap(() -> MDC.get(CallContext.DBG)), pool).get();
            }
            assertEquals("call-1", seen);
            assertEquals("left-over", pool.submit(() -> MDC.get(CallContext.DBG)).get(), "restored after");
            pool.submit(MDC::clear).get();

            CompletableFuture<String> task = new CompletableFuture<>();
            try (CallContext.Scope s = CallContext.enter("q", "call-2")) {
                CallContext.propagating(pool).execute(() -> task.complete(MDC.get(CallContext.DBG)));
            }
            assertEquals("call-2", task.get());
            assertNull(pool.submit(() -> MDC.get(CallContext.DBG)).get(), "nothing left on the pool thread");

            CompletableFuture<String> reply = new CompletableFuture<>();
            CompletableFuture<String> lastLine = new CompletableFuture<>();
            try (CallContext.Scope s = CallContext.enter("q", "call-3")) {
                CallContext.whenDone(reply, (r, e) -> lastLine.complete(r + " " + MDC.get(CallContext.DBG)));
            }
            pool.submit(() -> reply.complete("ok")).get(); // completed by a thread of no call
            assertEquals("ok call-3", lastLine.get());
            assertNull(pool.submit(() -> MDC.get(CallContext.DBG)).get(), "nothing left on the completing thread");
        } finally {
            pool.shutdownNow();
        }
    }
}
