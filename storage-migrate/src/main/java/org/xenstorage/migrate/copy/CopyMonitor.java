package org.xenstorage.migrate.copy;

/**
 * Told by {@link SparseCopier} how far a copy has got, between blocks. Throwing from
 * {@link #advanced} aborts the copy with that exception (how a task cancels it).
 */
@FunctionalInterface
public interface CopyMonitor {

    /** A monitor that ignores progress and never aborts. */
    CopyMonitor NONE = (done, total) -> { };

    /**
     * @param done  bytes of the source range dealt with so far (copied, skipped as zero or unchanged)
     * @param total bytes in the whole range
     */
    void advanced(long done, long total);
}
