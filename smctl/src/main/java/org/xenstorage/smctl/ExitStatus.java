package org.xenstorage.smctl;

/**
 * The exit statuses of {@code smctl}, one per class of failure so scripts can tell "the storage said no"
 * from "I typed it wrong" from "nobody answered".
 */
public final class ExitStatus {
    /** The call succeeded (for a followed task: the task completed). */
    public static final int OK = 0;
    /** The storage answered with a SMAPIv2 error, or a followed task failed. */
    public static final int STORAGE_ERROR = 1;
    /** Bad command line: unknown command or option, missing or ill-typed value. */
    public static final int USAGE = 2;
    /** The message-switch is unreachable, nobody serves the queue, or no reply came in time. */
    public static final int UNREACHABLE = 3;
    /** smctl itself failed: a reply it cannot read, or a defect. */
    public static final int INTERNAL = 4;

    private ExitStatus() {
    }
}
