package org.xenstorage.exec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Killing a process together with everything it started, and telling when a process is really gone.
 * A driver or plugin script can fork helpers of its own; a timeout (or, in tests, a simulated crash of
 * the daemon) must end all of them, as systemd ends a unit's whole control group.
 */
public final class ProcessTree {
    private ProcessTree() {
    }

    /**
     * SIGKILL to {@code process} and its descendants. The tree is frozen first (SIGSTOP, root down, listing
     * again until no process is new): a stopped process forks nothing, so no child born between the listing and
     * the kill escapes it, re-parented and still running. Once the process is dead its children are re-parented
     * and no longer show as its descendants, hence the listing before the kill. {@link Process#destroyForcibly}
     * also closes the pipes to the process, so readers of its output see the end at once.
     *
     * @return the descendants that were signalled
     */
    public static List<ProcessHandle> kill(Process process) {
        List<ProcessHandle> descendants = freeze(process.toHandle());
        process.destroyForcibly();
        descendants.forEach(ProcessHandle::destroyForcibly);
        return descendants;
    }

    /**
     * As {@link #kill(Process)} through a handle, which leaves a {@link Process}'s pipes open: what the
     * process wrote before it died can still be read.
     */
    public static List<ProcessHandle> kill(ProcessHandle root) {
        List<ProcessHandle> descendants = freeze(root);
        root.destroyForcibly();
        descendants.forEach(ProcessHandle::destroyForcibly);
        return descendants;
    }

    /** Stops {@code root}, then its descendants until a listing finds none that is new; returns them. */
    private static List<ProcessHandle> freeze(ProcessHandle root) {
        if (!stop(List.of(root))) {
            return root.descendants().toList(); // no kill(1) to stop with: list and kill, as well as can be
        }
        Set<Long> seen = new HashSet<>();
        List<ProcessHandle> all = new ArrayList<>();
        for (List<ProcessHandle> fresh = root.descendants().toList(); !fresh.isEmpty();
                fresh = root.descendants().filter(p -> !seen.contains(p.pid())).toList()) {
            stop(fresh); // before the next listing: a fork in flight when its parent was stopped shows up there
            fresh.forEach(p -> seen.add(p.pid()));
            all.addAll(fresh);
        }
        return all;
    }

    /** SIGSTOP through kill(1), run without a shell (Java can only end a process); false when that failed. */
    private static boolean stop(List<ProcessHandle> processes) {
        if (KILL_COMMAND == null) {
            return false;
        }
        List<String> argv = new ArrayList<>(List.of(KILL_COMMAND.toString(), "-STOP"));
        processes.forEach(p -> argv.add(Long.toString(p.pid())));
        try {
            Process kill = new ProcessBuilder(argv).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            // a process that exited meanwhile makes kill(1) exit non-zero: the others were still stopped
            return kill.waitFor(10, TimeUnit.SECONDS);
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private static final Path KILL_COMMAND = Stream.of("/usr/bin/kill", "/bin/kill").map(Path::of)
            .filter(Files::isExecutable).findFirst().orElse(null);

    /**
     * The live processes whose process group is {@code pgid}, from /proc; empty for this JVM's own group (never a
     * target) and where /proc cannot be read.
     */
    public static List<ProcessHandle> groupMembers(long pgid) {
        return PipeHolders.groupMembers(pgid);
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
