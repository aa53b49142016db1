package org.xenstorage.migrate.copy;

import java.time.Duration;

/**
 * What a {@link SparseCopier} run did.
 *
 * @param length         bytes in the copied range (the virtual size)
 * @param bytesRead      source bytes actually read (holes found by the extent map are not read)
 * @param bytesWritten   destination bytes written
 * @param zeroBytesSkipped source bytes that were zero and so not written (holes stay holes)
 * @param elapsed        wall-clock time including the final fsync
 */
public record CopyStats(long length, long bytesRead, long bytesWritten, long zeroBytesSkipped, Duration elapsed) {

    /** Throughput over the whole range, in MiB/s (what a user sees as "copy speed"). */
    public double mibPerSecond() {
        double secs = Math.max(elapsed.toNanos(), 1) / 1e9;
        return length / (1024.0 * 1024.0) / secs;
    }
}
