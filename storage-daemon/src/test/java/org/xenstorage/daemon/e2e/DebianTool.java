package org.xenstorage.daemon.e2e;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A Debian tool a test needs (nbdinfo, nbdcopy, qemu-nbd): its path, or a failure naming the package that ships
 * it. Never a skip: CI installs them (.ci/run), and a test that silently did not run proves nothing.
 */
final class DebianTool {
    private static final List<String> DIRS = List.of("/usr/bin", "/usr/sbin", "/usr/local/bin", "/bin", "/sbin");

    private DebianTool() {
    }

    /** The tool's absolute path; fails the test when it is not installed. */
    static String require(String tool, String debianPackage) {
        for (String d : DIRS) {
            Path p = Path.of(d, tool);
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        throw new AssertionError(tool + " is not installed: it comes with the Debian package " + debianPackage
                + " (apt-get install -y " + debianPackage + "; .ci/run installs it before mvn verify)");
    }
}
