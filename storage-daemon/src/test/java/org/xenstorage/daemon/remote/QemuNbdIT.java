package org.xenstorage.daemon.remote;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.testing.Soon;

/** The endpoint's qemu-nbd (Debian qemu-utils), for real: ready when started, failure in its own words, reclaim. */
class QemuNbdIT {
    @TempDir
    Path dir;
    Path image;

    @BeforeEach
    void image() throws IOException {
        if (QemuNbd.find().isEmpty()) {
            throw new AssertionError("qemu-nbd is not installed: it comes with the Debian package " + QemuNbd.PACKAGE
                    + " (apt-get install -y " + QemuNbd.PACKAGE + "; .ci/run installs it before mvn verify)");
        }
        image = dir.resolve("disk.img");
        try (var f = new java.io.RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(4 << 20);
        }
    }

    @Test
    void eachConnectionsExportStartsReadyAndStopsAlone() throws Exception {
        Path base = dir.resolve("remote");
        QemuNbd first = QemuNbd.start(image, base, Soon.timeout());
        // a second connection to the same VDI gets a qemu-nbd of its own (Debian's 7.2 takes no lock on a raw file)
        QemuNbd second = QemuNbd.start(image, base, Soon.timeout());
        assertTrue(first.alive() && second.alive());
        assertTrue(Files.exists(first.socket()) && Files.exists(second.socket()));
        first.close();
        assertFalse(first.alive());
        assertFalse(Files.exists(first.socket().getParent()), "its directory is removed");
        assertTrue(second.alive());
        second.close();
        assertFalse(second.alive());
    }

    @Test
    void aMissingImageIsAnErrorWithQemuNbdsOwnWords() {
        IOException e = assertThrows(IOException.class,
                () -> QemuNbd.start(dir.resolve("absent.img"), dir.resolve("remote"), Duration.ofSeconds(30)));
        assertTrue(e.getMessage().contains("qemu-nbd exited") && e.getMessage().contains("absent.img"), e.getMessage());
    }

    @Test
    void reclaimKillsWhatAKilledDaemonLeftAndRemovesItsSockets() throws Exception {
        Path base = dir.resolve("remote");
        QemuNbd orphan = QemuNbd.start(image, base, Soon.timeout());
        Path socketDir = orphan.socket().getParent();
        assertTrue(QemuNbd.reclaim(base) >= 1);
        Soon.await("the orphan qemu-nbd is gone", () -> !orphan.alive());
        assertFalse(Files.exists(socketDir));
        orphan.close(); // nothing left to do: idempotent
    }
}
