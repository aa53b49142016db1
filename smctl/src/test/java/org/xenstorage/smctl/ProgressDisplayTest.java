package org.xenstorage.smctl;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Bar on a terminal, deduplicated percentage lines elsewhere, silence on request. */
class ProgressDisplayTest {
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final Terminal tty = new Terminal(System.out, new PrintStream(bytes, true, StandardCharsets.UTF_8), true);
    private final Terminal pipe = new Terminal(System.out, new PrintStream(bytes, true, StandardCharsets.UTF_8), false);

    private String err() {
        return bytes.toString(StandardCharsets.UTF_8);
    }

    @Test
    void linesOnlyWhenTheWholePercentMoves() {
        ProgressDisplay d = ProgressDisplay.create(CommonOptions.Progress.AUTO, pipe, 0);
        d.update(0.101, Duration.ofSeconds(1));
        d.update(0.104, Duration.ofSeconds(2));
        d.update(0.5, Duration.ofSeconds(3));
        d.update(7, Duration.ofSeconds(3)); // clamped
        d.finish(true, Duration.ofSeconds(4));
        assertEquals("progress: 10%\nprogress: 50%\nprogress: 100%\n", err());
    }

    @Test
    void barIsRedrawnInPlaceWithTheRate() {
        ProgressDisplay d = ProgressDisplay.create(CommonOptions.Progress.AUTO, tty, 1L << 30);
        d.update(0.5, Duration.ofSeconds(2));
        d.finish(false, Duration.ofSeconds(3));
        assertEquals("\r[###############---------------]  50.0%  256 MiB/s\n", err());
    }

    @Test
    void forcedModesIgnoreTheTerminal() {
        ProgressDisplay.create(CommonOptions.Progress.LINES, tty, 0).update(0.3, Duration.ZERO);
        ProgressDisplay.create(CommonOptions.Progress.NONE, tty, 0).update(0.6, Duration.ZERO);
        assertEquals("progress: 30%\n", err());
    }

    @Test
    void unitsAreBinary() {
        assertEquals("1023 B", Units.bytes(1023));
        assertEquals("1.5 KiB", Units.bytes(1536));
        assertEquals("10 GiB", Units.bytes(10L << 30));
        assertEquals("512 MiB/s", Units.rate(512.0 * (1 << 20)));
        assertEquals("12.5 s", Units.seconds(12.5));
        assertEquals("task 3: completed in 2 s, 1 GiB at 512 MiB/s", TaskCommands.summary("3", 1L << 30, 2));
        assertEquals("task 3: completed in 0.1 s", TaskCommands.summary("3", 0, 0.1));
    }
}
