package org.xenstorage.exec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collection;
import java.util.List;

/**
 * Killing a process together with everything it started, and telling when a process is really gone.
 * A driver or plugin script can fork helpers of its own; a timeout (or, in tests, a simulated crash of
 * the daemon) must end all of them, as systemd ends a unit's whole control group.
 */
public final class ProcessTree {
    private ProcessTree() {
    }

    /**
     * SIGKILL to {@code process} and its descendants. The descendants are listed first: once the process
     * is dead its children are re-parented and no longer show as its descendants. {@link Process#destroyForcibly}
     * also closes the pipes to the process, so readers of its output see the end at once.
     *
     * @return the descendants that were signalled
     */
    public static List<ProcessHandle> kill(Process process) {
        List<ProcessHandle> descendants = process.descendants().toList();
        process.destroyForcibly();
        descendants.forEach(ProcessHandle::destroyForcibly);
        return descendants;
    }

    /**
     * As {@link #kill(Process)} through a handle, which leaves a {@link Process}'s pipes open: what the
     * process wrote before it died can still be read.
     */
    public static List<ProcessHandle> kill(ProcessHandle root) {
        List<ProcessHandle> descendants = root.descendants().toList();
        root.destroyForcibly();
        descendants.forEach(ProcessHandle::destroyForcibly);
        return descendants;
    }

    /**
     * Gone: exited, or a zombie. A zombie runs no code and holds no file or lock, but
     * {@link ProcessHandle#isAlive} calls it alive until its parent reaps it, and an orphan's new parent
     * (PID 1 in a container) may never do so.
     */
    public static boolean gone(ProcessHandle p) {
        if (!p.isAlive()) {
            return true;
        }
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(p.pid()), "stat"));
            // the state is the field after the command name, which is in parentheses and may hold blanks
            return stat.charAt(stat.lastIndexOf(')') + 2) == 'Z';
        } catch (IOException | RuntimeException e) {
            return true; // reaped meanwhile
        }
    }

    /**
     * Waits until every one of {@code processes} is {@linkplain #gone gone}.
     *
     * @return false when one is still there after {@code max}
     */
    public static boolean awaitGone(Collection<ProcessHandle> processes, Duration max) throws InterruptedException {
        long deadline = System.nanoTime() + max.toNanos();
        for (ProcessHandle p : processes) {
            while (!gone(p)) {
                if (System.nanoTime() > deadline) {
                    return false;
                }
                Thread.sleep(5);
            }
        }
        return true;
    }
}
