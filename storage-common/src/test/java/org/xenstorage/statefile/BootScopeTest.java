package org.xenstorage.statefile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BootScopeTest {
    @TempDir
    Path dir;

    @Test
    void theKernelBootIdIsReadable() throws Exception {
        assertEquals(36, BootScope.read(BootScope.KERNEL_BOOT_ID).length());
    }

    @Test
    void aBootIdFileMustHoldOneLine() throws Exception {
        Path f = dir.resolve("boot_id");
        Files.writeString(f, "  \n");
        assertThrows(IOException.class, () -> BootScope.read(f));
        Files.writeString(f, "boot-a\n");
        assertEquals("boot-a", BootScope.read(f));
    }

    @Test
    void stateOfThisBootIsKeptAndTheSidecarIsPrivate() throws Exception {
        Path state = dir.resolve("state.db");
        assertEquals(BootScope.Outcome.THIS_BOOT, BootScope.adopt(state, "boot-a"), "no state yet");
        Path sidecar = dir.resolve("state.db.boot-id");
        assertEquals("boot-a\n", Files.readString(sidecar));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(sidecar)));
        AtomicFile.write(state, "attached".getBytes());
        assertEquals(BootScope.Outcome.THIS_BOOT, BootScope.adopt(state, "boot-a"));
        assertEquals("attached", Files.readString(state));
    }

    @Test
    void stateOfAnotherBootIsMovedAsideFileAndDirectory() throws Exception {
        Path file = dir.resolve("state.db");
        Path tree = dir.resolve("dps");
        BootScope.adopt(file, "boot-a");
        BootScope.adopt(tree, "boot-a");
        AtomicFile.write(file, "attached in a".getBytes());
        AtomicFile.write(tree.resolve("dp-1"), "{}".getBytes());

        assertEquals(BootScope.Outcome.PREVIOUS_BOOT, BootScope.adopt(file, "boot-b"));
        assertEquals(BootScope.Outcome.PREVIOUS_BOOT, BootScope.adopt(tree, "boot-b"));
        assertFalse(Files.exists(file));
        assertFalse(Files.exists(tree));
        assertEquals("attached in a", Files.readString(dir.resolve("state.db.previous-boot")));
        assertTrue(Files.exists(dir.resolve("dps.previous-boot/dp-1")));
        assertEquals("boot-b\n", Files.readString(dir.resolve("state.db.boot-id")));

        // a third boot replaces the older leftover
        AtomicFile.write(tree.resolve("dp-2"), "{}".getBytes());
        assertEquals(BootScope.Outcome.PREVIOUS_BOOT, BootScope.adopt(tree, "boot-c"));
        assertTrue(Files.exists(dir.resolve("dps.previous-boot/dp-2")));
        assertFalse(Files.exists(dir.resolve("dps.previous-boot/dp-1")));
        // and the state of boot c stays
        assertEquals(BootScope.Outcome.THIS_BOOT, BootScope.adopt(tree, "boot-c"));
    }

    @Test
    void stateWithoutASidecarIsTrustedOnlyWhenWrittenSinceTheKernelBooted() throws Exception {
        Path fresh = dir.resolve("fresh.db");
        AtomicFile.write(fresh, "x".getBytes());
        assertEquals(BootScope.Outcome.THIS_BOOT, BootScope.adopt(fresh, "boot-a"));
        assertTrue(Files.exists(fresh));

        Path old = dir.resolve("old.db");
        AtomicFile.write(old, "x".getBytes());
        Files.setLastModifiedTime(old, FileTime.from(Instant.parse("2001-01-01T00:00:00Z")));
        assertEquals(BootScope.Outcome.PREVIOUS_BOOT, BootScope.adopt(old, "boot-a"));
        assertFalse(Files.exists(old));
        assertEquals("boot-a\n", Files.readString(dir.resolve("old.db.boot-id")));
    }
}
