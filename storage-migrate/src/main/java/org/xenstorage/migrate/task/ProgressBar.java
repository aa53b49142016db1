package org.xenstorage.migrate.task;

import java.time.Duration;
import java.util.Locale;

/**
 * Text for a client following a copy task (e.g. {@code smctl vdi-copy}): a one-line bar from the
 * task's {@code Pending} fraction, and the final throughput line. Pure formatting, no I/O.
 */
public final class ProgressBar {
    private ProgressBar() {
    }

    /** {@code [##########..........]  50%} with {@code width} cells; the fraction is clamped to 0..1. */
    public static String render(double fraction, int width) {
        if (width < 1) {
            throw new IllegalArgumentException("width must be positive");
        }
        double f = Double.isNaN(fraction) ? 0 : Math.max(0, Math.min(1, fraction));
        int filled = (int) Math.floor(f * width);
        StringBuilder sb = new StringBuilder(width + 8).append('[');
        sb.append("#".repeat(filled)).append(".".repeat(width - filled)).append(']');
        sb.append(String.format(Locale.ROOT, " %3d%%", (int) Math.floor(f * 100)));
        return sb.toString();
    }

    /** {@code 1.00 GiB in 2.5 s (409.6 MiB/s)}; a zero duration counts as one millisecond. */
    public static String throughput(long bytes, Duration elapsed) {
        double secs = Math.max(elapsed.toMillis(), 1) / 1000.0;
        return String.format(Locale.ROOT, "%s in %.1f s (%.1f MiB/s)", size(bytes), secs,
                bytes / (1024.0 * 1024.0) / secs);
    }

    /** Binary units: {@code 512 B}, {@code 1.50 MiB}, {@code 1.00 GiB}. */
    public static String size(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        double v = bytes;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.2f %s", v, units[u]);
    }
}
