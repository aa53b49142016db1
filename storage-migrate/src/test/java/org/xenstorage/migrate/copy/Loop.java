package org.xenstorage.migrate.copy;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.xenstorage.exec.ChildProcessRunner;
import org.xenstorage.exec.ExecRequest;
import org.xenstorage.exec.ExecResult;
import org.xenstorage.testing.Soon;

/** A file as a real block device: a loop device made with {@code losetup} (util-linux; the tests run as root). */
final class Loop {
    private static final String LOSETUP = "/usr/sbin/losetup";

    private Loop() {
    }

    /** Attaches {@code file} to a free loop device and returns the device's path. */
    static Path attach(ChildProcessRunner runner, Path file) throws IOException {
        ExecResult r = runner.run(ExecRequest.of(List.of(LOSETUP, "--find", "--show", file.toString()),
                Map.of("LC_ALL", "C"), Soon.timeout()));
        if (!r.succeeded()) {
            throw new AssertionError("losetup --find --show " + file + " failed (this test needs root and a loop"
                    + " device): " + r.stderrText().strip());
        }
        return Path.of(r.stdoutText().strip());
    }

    static void detach(ChildProcessRunner runner, Path device) throws IOException {
        ExecResult r = runner.run(ExecRequest.of(List.of(LOSETUP, "--detach", device.toString()),
                Map.of("LC_ALL", "C"), Soon.timeout()));
        if (!r.succeeded()) {
            throw new IOException("losetup --detach " + device + " failed: " + r.stderrText().strip());
        }
    }
}
