package org.xenstorage.statefile;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicFileTest {
    @TempDir
    Path dir;

    @Test
    void writesPrivateFileAndReplacesItWholly() throws Exception {
        Path target = dir.resolve("nested/state.json");
        AtomicFile.write(target, "one".getBytes(StandardCharsets.UTF_8));
        AtomicFile.write(target, "two".getBytes(StandardCharsets.UTF_8));
        assertArrayEquals("two".getBytes(StandardCharsets.UTF_8), AtomicFile.read(target).orElseThrow());
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(target)));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(target.getParent())));
        try (var files = Files.list(target.getParent())) {
            assertEquals(1, files.count(), "no temporary file may be left behind");
        }
    }

    @Test
    void readOfMissingFileIsEmptyAndDeleteIsIdempotent() throws Exception {
        Path target = dir.resolve("absent");
        assertTrue(AtomicFile.read(target).isEmpty());
        AtomicFile.delete(target);
        AtomicFile.write(target, new byte[] {1});
        AtomicFile.delete(target);
        assertTrue(AtomicFile.read(target).isEmpty());
    }
}
