package org.xenstorage.migrate.task;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class ProgressBarTest {
    @Test
    void barFillsWithTheFractionAndClamps() {
        assertEquals("[..........]   0%", ProgressBar.render(0, 10));
        assertEquals("[#####.....]  50%", ProgressBar.render(0.5, 10));
        assertEquals("[##########] 100%", ProgressBar.render(1, 10));
        assertEquals("[##########] 100%", ProgressBar.render(1.7, 10));
        assertEquals("[....]   0%", ProgressBar.render(Double.NaN, 4));
        assertEquals("[#########.]  95%", ProgressBar.render(0.05 + 0.9, 10));
        assertThrows(IllegalArgumentException.class, () -> ProgressBar.render(0.5, 0));
    }

    @Test
    void throughputInBinaryUnits() {
        assertEquals("1.00 GiB in 2.0 s (512.0 MiB/s)", ProgressBar.throughput(1L << 30, Duration.ofSeconds(2)));
        assertEquals("512 B in 0.0 s (0.5 MiB/s)", ProgressBar.throughput(512, Duration.ZERO));
        assertEquals("1.50 MiB", ProgressBar.size(3 << 19));
    }
}
