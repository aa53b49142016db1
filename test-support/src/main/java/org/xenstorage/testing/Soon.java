package org.xenstorage.testing;

import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The one place that says how long a test waits for something that should happen soon: a reply, a process
 * start, a file appearing, a reconnect. Tests wait for a condition, never for a duration; this bound only
 * decides when a wait that should have ended is a failure, so it is generous enough for a 2-core machine whose
 * cores are busy with other work, and no assertion depends on how fast the machine is.
 *
 * <p>The bound is {@value #DEFAULT_SECONDS} s, or the system property {@value #PROPERTY} in seconds
 * ({@code mvn verify -Dxenstorage.test.soon=300} on a very slow machine). A test needing a longer wait for a
 * longer job (a whole crash sequence, a big copy) asks for a multiple: {@link #times(int)}.
 */
public final class Soon {
    /** System property (seconds) that overrides {@link #DEFAULT_SECONDS}. */
    public static final String PROPERTY = "xenstorage.test.soon";
    /** The bound when the property is not set. */
    public static final long DEFAULT_SECONDS = 60;

    private static final Duration TIMEOUT = Duration.ofSeconds(Long.getLong(PROPERTY, DEFAULT_SECONDS));
    private static final long FIRST_POLL_MILLIS = 5;
    private static final long MAX_POLL_MILLIS = 100;

    private Soon() {
    }

    /** A condition that may throw while it does not hold yet (a file not yet written, a call refused). */
    @FunctionalInterface
    public interface Condition {
        boolean holds() throws Exception;
    }

    /** How long a "should happen soon" wait lasts before it fails. */
    public static Duration timeout() {
        return TIMEOUT;
    }

    /** {@link #timeout()} in whole seconds, for APIs and command lines that take seconds. */
    public static long seconds() {
        return TIMEOUT.toSeconds();
    }

    /** {@link #timeout()} in milliseconds. */
    public static long millis() {
        return TIMEOUT.toMillis();
    }

    /** {@code n} times {@link #timeout()}, for a wait that covers a longer job. */
    public static Duration times(int n) {
        return TIMEOUT.multipliedBy(n);
    }

    /**
     * Polls {@code condition} until it holds; fails with {@code what} when it has not held within
     * {@link #timeout()}. An exception from the condition counts as "not yet"; the last one is the failure's cause.
     */
    public static void await(String what, Condition condition) throws InterruptedException {
        await(what, TIMEOUT, condition);
    }

    /** {@link #await(String, Condition)} with an explicit bound (a multiple of {@link #timeout()}). */
    public static void await(String what, Duration bound, Condition condition) throws InterruptedException {
        long deadline = System.nanoTime() + bound.toNanos();
        long pause = FIRST_POLL_MILLIS;
        Exception last = null;
        while (true) {
            try {
                if (condition.holds()) {
                    return;
                }
            } catch (InterruptedException e) {
                throw e;
            } catch (Exception e) {
                last = e;
            }
            if (System.nanoTime() - deadline > 0) {
                AssertionError failure = new AssertionError("not within " + bound.toSeconds() + " s: " + what);
                if (last != null) {
                    failure.initCause(last);
                }
                throw failure;
            }
            Thread.sleep(pause);
            pause = Math.min(MAX_POLL_MILLIS, pause * 2);
        }
    }

    /**
     * The future's value, waiting up to {@link #timeout()}; a future still not done then is a test failure
     * (an {@link AssertionError}), not a {@link TimeoutException} the test would have to declare.
     */
    public static <T> T get(Future<T> future) throws InterruptedException, ExecutionException {
        return get(future, TIMEOUT);
    }

    /** {@link #get(Future)} with an explicit bound (a multiple of {@link #timeout()}). */
    public static <T> T get(Future<T> future, Duration bound) throws InterruptedException, ExecutionException {
        try {
            return future.get(bound.toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw new AssertionError("not done within " + bound.toSeconds() + " s: " + future, e);
        }
    }

    /**
     * Waits for a process to exit, up to {@link #timeout()}; fails (after killing it) when it has not.
     * @return its exit status
     */
    public static int exitOf(Process process) throws InterruptedException {
        if (!process.waitFor(TIMEOUT.toNanos(), TimeUnit.NANOSECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("process " + process.pid() + " did not exit within " + seconds() + " s");
        }
        return process.exitValue();
    }
}
