package org.xenstorage.exec;

import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * How a child process ended.
 *
 * @param termination why it ended
 * @param exitStatus  the wait status as Java reports it: the exit code, or 128 + signal number
 *                    when a signal killed it (meaningful for {@link Termination#EXITED} only)
 * @param stdout      everything it printed on stdout (at most the request's cap)
 * @param stderr      the first bytes of its stderr (at most the request's cap)
 * @param elapsed     wall-clock time from spawn to reap
 */
public record ExecResult(Termination termination, int exitStatus, byte[] stdout, byte[] stderr, Duration elapsed) {

    /** Why the child stopped. */
    public enum Termination {
        /** It exited (or died of a signal it did not get from us). */
        EXITED,
        /** It ran past the timeout and we killed its process tree. */
        TIMED_OUT,
        /** It wrote more than the stdout cap and we killed its process tree. */
        OUTPUT_LIMIT
    }

    public boolean succeeded() {
        return termination == Termination.EXITED && exitStatus == 0;
    }

    /** The signal that killed it, or 0 when it exited normally (by Java's 128 + n convention). */
    public int signal() {
        return termination == Termination.EXITED && exitStatus > 128 && exitStatus < 128 + 65 ? exitStatus - 128 : 0;
    }

    public String stdoutText() {
        return new String(stdout, StandardCharsets.UTF_8);
    }

    public String stderrText() {
        return new String(stderr, StandardCharsets.UTF_8);
    }
}
