package org.xenstorage.exec;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Who holds a child's output pipes, from {@code /proc}: a process's pipes are named {@code pipe:[inode]}
 * there, the same name at both ends. Used when a child has exited but its stdout or stderr has not ended:
 * something it left behind (a daemonised helper) still holds them.
 */
final class PipeHolders {
    private PipeHolders() {
    }

    /**
     * A child's output pipes, as read right after it started.
     *
     * @param pipes the {@code pipe:[inode]} names of its stdout and stderr (empty when it was already gone)
     */
    record Identity(Set<String> pipes) {
        boolean known() {
            return !pipes.isEmpty();
        }

        /** The processes other than this JVM that hold one of the pipes now. */
        List<ProcessHandle> holders() {
            return otherProcesses(pid -> holdsAny(Path.of("/proc", Long.toString(pid))));
        }

        private boolean holdsAny(Path proc) {
            try (DirectoryStream<Path> fds = Files.newDirectoryStream(proc.resolve("fd"))) {
                for (Path fd : fds) {
                    try {
                        if (pipes.contains(Files.readSymbolicLink(fd).toString())) {
                            return true;
                        }
                    } catch (IOException gone) {
                        // closed while listed
                    }
                }
            } catch (IOException | SecurityException e) {
                // gone, or not ours to look at (then it cannot hold our pipe either, unless root: we run as root)
            }
            return false;
        }
    }

    /** The live processes of process group {@code pgid} (never this JVM's own group). */
    static List<ProcessHandle> groupMembers(long pgid) {
        if (pgid <= 1 || pgid == pgidOf(ProcessHandle.current().pid())) {
            return List.of();
        }
        return otherProcesses(pid -> pgidOf(pid) == pgid).stream().filter(p -> !ProcessTree.gone(p)).toList();
    }

    /** The processes listed in /proc, this JVM excepted, whose pid passes {@code test}. */
    private static List<ProcessHandle> otherProcesses(java.util.function.LongPredicate test) {
        List<ProcessHandle> out = new ArrayList<>();
        long self = ProcessHandle.current().pid();
        try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
            for (Path proc : procs) {
                long pid;
                try {
                    pid = Long.parseLong(proc.getFileName().toString());
                } catch (NumberFormatException e) {
                    continue;
                }
                if (pid != self && test.test(pid)) {
                    ProcessHandle.of(pid).ifPresent(out::add);
                }
            }
        } catch (IOException e) {
            // no /proc: nobody can be named
        }
        return out;
    }

    static Identity identify(long pid) {
        Set<String> pipes = new HashSet<>();
        for (int fd : new int[] {1, 2}) {
            try {
                String target = Files.readSymbolicLink(Path.of("/proc", Long.toString(pid), "fd", Integer.toString(fd)))
                        .toString();
                if (target.startsWith("pipe:")) {
                    pipes.add(target);
                }
            } catch (IOException | UnsupportedOperationException e) {
                // already gone
            }
        }
        return new Identity(Set.copyOf(pipes));
    }

    /** The process group of {@code pid} (field 5 of /proc/pid/stat), or 0 when it is gone. */
    static long pgidOf(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return Long.parseLong(f[2]);
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }
}
