package org.xenstorage.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The Debian tools that tests run for real (qemu's storage daemon and NBD server, libnbd's nbdinfo and nbdcopy),
 * and the one way a test requires one: {@link #require(Tool)} returns the program's path, or fails the test with
 * a message naming the Debian package to install and {@code .ci/run}, which installs them all. A missing tool is
 * a failure, never a skip: a suite that silently skipped its NBD tests would pass without testing anything.
 */
public final class DebianTools {
    /** The script that installs every package below before {@code mvn -B verify} (as root, on Debian). */
    public static final String CI_SCRIPT = ".ci/run";

    /** Where Debian installs programs, searched before {@code PATH}. */
    private static final List<Path> SYSTEM_DIRS = List.of(Path.of("/usr/bin"), Path.of("/usr/sbin"),
            Path.of("/bin"), Path.of("/sbin"), Path.of("/usr/local/bin"));

    private DebianTools() {
    }

    /** A program the tests run, and the Debian 12 package that ships it. */
    public enum Tool {
        QEMU_STORAGE_DAEMON("qemu-storage-daemon", "qemu-system-common"),
        QEMU_IMG("qemu-img", "qemu-utils"),
        QEMU_IO("qemu-io", "qemu-utils"),
        QEMU_NBD("qemu-nbd", "qemu-utils"),
        NBDINFO("nbdinfo", "libnbd-bin"),
        NBDCOPY("nbdcopy", "libnbd-bin");

        private final String program;
        private final String debianPackage;

        Tool(String program, String debianPackage) {
            this.program = program;
            this.debianPackage = debianPackage;
        }

        /** The program's file name. */
        public String program() {
            return program;
        }

        /** The Debian package that installs it. */
        public String debianPackage() {
            return debianPackage;
        }
    }

    /** Every package {@code .ci/run} installs, in the order it names them. */
    public static List<String> packages() {
        Set<String> out = new LinkedHashSet<>();
        for (Tool t : Tool.values()) {
            out.add(t.debianPackage());
        }
        return List.copyOf(out);
    }

    /**
     * The absolute path of {@code tool}, found in the system directories or on {@code PATH}.
     *
     * @throws AssertionError (a test failure) naming the Debian package and {@code .ci/run} when it is absent
     */
    public static Path require(Tool tool) {
        return requireIn(tool, searchPath());
    }

    /** As {@link #require(Tool)}, for several tools at once (the first missing one fails). */
    public static void requireAll(Tool... tools) {
        for (Tool t : tools) {
            require(t);
        }
    }

    /**
     * As {@link #require(Tool)}, searching only {@code dirs} (what this class's own test uses to see the
     * failure message).
     */
    public static Path requireIn(Tool tool, List<Path> dirs) {
        return find(tool, dirs).orElseThrow(() -> new AssertionError(missing(tool, dirs)));
    }

    /** The path of {@code tool} when it is installed (for callers that report rather than fail). */
    public static Optional<Path> find(Tool tool) {
        return find(tool, searchPath());
    }

    private static Optional<Path> find(Tool tool, List<Path> dirs) {
        for (Path dir : dirs) {
            Path candidate = dir.resolve(tool.program());
            if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
                return Optional.of(candidate.toAbsolutePath());
            }
        }
        return Optional.empty();
    }

    /** The failure message for a missing tool: what is missing, which package has it, how to install it. */
    static String missing(Tool tool, List<Path> dirs) {
        return tool.program() + " is not installed (looked in " + dirs + "): this test runs it for real. Install"
                + " the Debian package " + tool.debianPackage() + " (apt-get install -y " + tool.debianPackage()
                + "), or run " + CI_SCRIPT + " as root, which installs " + String.join(", ", packages())
                + " before mvn -B verify";
    }

    private static List<Path> searchPath() {
        List<Path> dirs = new ArrayList<>(SYSTEM_DIRS);
        String path = System.getenv("PATH");
        if (path != null) {
            for (String d : path.split(":")) {
                if (!d.isBlank() && Path.of(d).isAbsolute() && !dirs.contains(Path.of(d))) {
                    dirs.add(Path.of(d));
                }
            }
        }
        return dirs;
    }
}
