package org.xenstorage.smctl;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where smctl writes: results on {@code out}, errors and progress on {@code err}.
 *
 * @param errIsTty whether {@code err} is a terminal (progress is then drawn as a bar)
 */
public record Terminal(PrintStream out, PrintStream err, boolean errIsTty) {

    /** The process's own streams; stderr counts as a terminal when fd 2 is a tty or pts device. */
    public static Terminal system() {
        return new Terminal(System.out, System.err, stderrIsTty());
    }

    private static boolean stderrIsTty() {
        try {
            // Java has no isatty(2); on Linux the fd's link names the device
            String target = Files.readSymbolicLink(Path.of("/proc/self/fd/2")).toString();
            return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty");
        } catch (Exception e) {
            return false;
        }
    }
}
