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

    /** Issue 13.9: the temporary files of a writer killed mid-write were never removed. */
    @Test
    void removesOnlyTheTemporariesOfWritersThatAreGone() throws Exception {
        Process gone = new ProcessBuilder("/bin/true").start();
        gone.waitFor();
        Process alive = new ProcessBuilder("/bin/sleep", "600").start();
        try {
            long me = ProcessHandle.current().pid();
            Path stale = Files.writeString(dir.resolve(".queues.json.tmp-" + gone.pid() + "-9f3a"), "half");
            Path mine = Files.writeString(dir.resolve(".queues.json.tmp-" + me + "-1b"), "being written");
            Path theirs = Files.writeString(dir.resolve(".queues.json.tmp-" + alive.pid() + "-2c"), "being written");
            Path other = Files.writeString(dir.resolve(".notes.tmp-draft"), "not ours");
            assertEquals(1, AtomicFile.removeStaleTemporaries(dir));
            assertTrue(Files.notExists(stale));
            assertTrue(Files.exists(mine) && Files.exists(theirs) && Files.exists(other));
            assertEquals(0, AtomicFile.removeStaleTemporaries(dir.resolve("absent")));
        } finally {
            alive.destroyForcibly();
        }
    }
}
