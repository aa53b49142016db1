package org.xenstorage.smapiv1;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Optional;

/** Puts real drivers (the shipped example, the misbehaving test drivers) into a driver directory. */
final class TestDrivers {
    /** The example driver shipped in the repository. */
    static final Path LOCALFILE = locate("examples/sm/LocalfileSR");

    private TestDrivers() {
    }

    private static Path locate(String relative) {
        Path dir = Path.of("").toAbsolutePath();
        while (dir != null) {
            Path p = dir.resolve(relative);
            if (Files.exists(p)) {
                return p;
            }
            dir = dir.getParent();
        }
        throw new IllegalStateException(relative + " not found above " + Path.of("").toAbsolutePath());
    }

    /** Copies the example driver into {@code smDir} as {@code LocalfileSR}, mode 0755. */
    static Path installLocalfile(Path smDir) throws IOException {
        Files.createDirectories(smDir);
        Path target = smDir.resolve("LocalfileSR");
        Files.copy(LOCALFILE, target, StandardCopyOption.REPLACE_EXISTING);
        Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rwxr-xr-x"));
        return target;
    }

    /** Copies test resource {@code drivers/<resource>} into {@code smDir} as {@code name}, mode 0755. */
    static Path installResource(Path smDir, String resource, String name) throws IOException {
        Files.createDirectories(smDir);
        Path target = smDir.resolve(name);
        try (InputStream in = TestDrivers.class.getResourceAsStream("/drivers/" + resource)) {
            if (in == null) {
                throw new IllegalStateException("no test resource drivers/" + resource);
            }
            Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
        }
        Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rwxr-xr-x"));
        return target;
    }

    static Smapiv1Config config(Path smDir, Path stateDir, Duration timeout) {
        return new Smapiv1Config(smDir, stateDir, "org.xen.xapi.storage", timeout, 8, Optional.empty());
    }
}
