package org.xenstorage.threads;

import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Catches blocking calls made on an event-loop thread, where one blocked call stalls every connection the
 * loop serves.
 *
 * <p>Event-loop threads are made by {@link #marking(ThreadFactory)}; code that may block (waits on a
 * future, runs a process, reads a file the slow way) calls {@link #mayBlock(String)} first. On an
 * event-loop thread that either fails with {@link IllegalStateException} ({@code fail} mode, which the
 * test suite uses) or logs one ERROR with the stack per call site and goes on ({@code warn} mode, the
 * default, so a missed case degrades a host instead of breaking it). The mode comes from the system
 * property {@code xenstorage.blockingGuard} or, for child JVMs a test starts, the environment variable
 * {@code XENSTORAGE_BLOCKING_GUARD}.
 */
public final class EventLoopGuard {
    private static final Logger LOG = LoggerFactory.getLogger(EventLoopGuard.class);
    private static final ThreadLocal<Boolean> EVENT_LOOP = ThreadLocal.withInitial(() -> Boolean.FALSE);
    private static final Set<String> REPORTED = ConcurrentHashMap.newKeySet();
    private static final boolean FAIL = "fail".equals(mode());

    private EventLoopGuard() {
    }

    private static String mode() {
        String m = System.getProperty("xenstorage.blockingGuard");
        if (m == null) {
            m = System.getenv("XENSTORAGE_BLOCKING_GUARD");
        }
        return m == null ? "warn" : m.trim().toLowerCase(Locale.ROOT);
    }

    /** Whether this JVM fails blocking calls on event loops (rather than logging them). */
    public static boolean failing() {
        return FAIL;
    }

    /** A thread factory whose threads count as event loops (each marks itself before it runs its task). */
    public static ThreadFactory marking(ThreadFactory base) {
        return task -> base.newThread(() -> {
            EVENT_LOOP.set(Boolean.TRUE);
            task.run();
        });
    }

    /** Whether the calling thread is an event loop. */
    public static boolean onEventLoop() {
        return EVENT_LOOP.get();
    }

    /**
     * To be called before {@code what} blocks: on an event-loop thread, fails or reports it (see the class
     * comment); elsewhere does nothing.
     *
     * @throws IllegalStateException in {@code fail} mode, on an event-loop thread
     */
    public static void mayBlock(String what) {
        check(what, FAIL);
    }

    /** {@link #mayBlock} in the given mode. */
    static void check(String what, boolean fail) {
        if (!EVENT_LOOP.get()) {
            return;
        }
        IllegalStateException e = new IllegalStateException("blocking call on event-loop thread "
                + Thread.currentThread().getName() + ": " + what);
        if (fail) {
            throw e;
        }
        if (REPORTED.add(what)) {
            LOG.error("{} (reported once per call site; every connection of this loop waits meanwhile)",
                    e.getMessage(), e);
        }
    }
}
