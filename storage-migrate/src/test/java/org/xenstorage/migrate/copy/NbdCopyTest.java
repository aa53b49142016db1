package org.xenstorage.migrate.copy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.exec.ChildProcessRunner;
import org.xenstorage.testing.DebianTools;

/** {@link NbdCopy}'s and {@link NbdUri}'s pure logic, and the errors given when a tool is missing (no tool runs). */
class NbdCopyTest {
    private static final ChildProcessRunner RUNNER = new ChildProcessRunner();

    @TempDir
    Path dir;

    @AfterAll
    static void closeRunner() {
        RUNNER.close();
    }

    @Test
    void givenSocketAndExport_whenUnixUriBuilt_thenLibnbdFormWithEncodedParts() {
        NbdUri uri = NbdUri.unixSocket(Path.of("/run/x storage/nbd.sock"), "vdi 1");

        assertEquals("nbd+unix:///vdi%201?socket=/run/x%20storage/nbd.sock", uri.text());
        assertTrue(uri.isUnixSocket());
        assertEquals(Path.of("/run/x storage/nbd.sock"), uri.socket());
        assertEquals("nbd+unix:///?socket=/tmp/s", NbdUri.unixSocket(Path.of("/tmp/s"), "").text());
    }

    @Test
    void givenHostAndPort_whenTcpUriBuilt_thenNbdForm() {
        assertEquals("nbd://127.0.0.1:10809/disk", NbdUri.tcp("127.0.0.1", 10809, "disk").text());
        assertEquals("nbd://[::1]:1234/", NbdUri.tcp("::1", 1234, "").text());
        assertFalse(NbdUri.tcp("h", 1, "").isUnixSocket());
    }

    @Test
    void givenTexts_whenParsed_thenOnlyNbdUrisAccepted() {
        assertEquals("nbds+unix:///e?socket=/s", NbdUri.parse("nbds+unix:///e?socket=/s").text());
        assertEquals("nbd://host/e", NbdUri.parse("nbd://host/e").text());
        for (String bad : List.of("/tmp/file", "-p", "http://host/e", "nbd+unix:///e", "nbd+unix:///e?socket=rel",
                "nbd+unix://host/e?socket=/s", "nbd:///e", "[", "nbd://host/a b")) {
            assertThrows(IllegalArgumentException.class, () -> NbdUri.parse(bad), bad);
        }
    }

    @Test
    void givenNbdcopyProgressLines_whenParsed_thenFractions() {
        assertEquals(0.0, NbdCopy.parseProgress("0/100"));
        assertEquals(0.12, NbdCopy.parseProgress("12/100"));
        assertEquals(1.0, NbdCopy.parseProgress("100/100"));
        assertEquals(-1, NbdCopy.parseProgress("nbdcopy: warning"));
        assertEquals(-1, NbdCopy.parseProgress(""));
    }

    @Test
    void givenDestinationState_whenArgvBuilt_thenZerosSkippedOnlyOnAFreshDestination() {
        NbdCopy c = NbdCopy.withSystemTools(RUNNER);
        List<String> fresh = c.argv(List.of("/src.img"), "nbd+unix:///?socket=/s", NbdCopy.Destination.FRESH);
        List<String> overwrite = c.argv(List.of("/src.img"), "nbd+unix:///?socket=/s", NbdCopy.Destination.OVERWRITE);

        assertEquals(List.of("/usr/bin/nbdcopy", "--progress=1", "--flush", "--destination-is-zero", "--", "/src.img",
                "nbd+unix:///?socket=/s"), fresh);
        assertFalse(overwrite.contains("--destination-is-zero"));
        assertTrue(overwrite.indexOf("--") < overwrite.indexOf("/src.img"), "no operand can be taken for an option");
    }

    @Test
    void givenPathWithQuotes_whenTruncatedImageNamed_thenJsonEscaped() {
        assertEquals("json:{\"driver\":\"raw\",\"size\":4096,\"file\":{\"driver\":\"file\",\"filename\":"
                + "\"/a\\\"b\\\\c,d\",\"locking\":\"off\"}}", NbdCopy.truncatedRawImage(Path.of("/a\"b\\c,d"), 4096, false));
        assertTrue(NbdCopy.truncatedRawImage(Path.of("/dev/sdb"), 1, true).contains("\"host_device\""));
    }

    @Test
    void givenFailures_whenDescribed_thenBothEndsStatusAndNbdcopysWords() {
        String refused = NbdCopy.failureMessage("/a.img -> nbd+unix:///?socket=/s", 1,
                "nbdcopy: nbd+unix:///?socket=/s: nbd_connect_uri: connect: Connection refused\n");
        assertEquals("nbdcopy /a.img -> nbd+unix:///?socket=/s failed (exit status 1): cannot reach the NBD export: "
                + "nbdcopy: nbd+unix:///?socket=/s: nbd_connect_uri: connect: Connection refused", refused);
        assertTrue(NbdCopy.failureMessage("x", 137, "").contains("failed (killed by signal 9), nothing on stderr"));
        assertTrue(NbdCopy.failureMessage("x", 1, "nbdcopy: error: destination size is smaller than source size")
                .contains("the destination is smaller than the source"));
    }

    @Test
    void givenNbdcopyMissing_whenStarted_thenErrorNamesTheDebianPackage() throws Exception {
        Path src = Files.write(dir.resolve("src.img"), new byte[4096]);
        NbdCopy c = new NbdCopy(RUNNER, dir.resolve("no-nbdcopy"), dir.resolve("no-nbdinfo"), dir.resolve("no-qemu-nbd"));

        NbdCopy.NbdCopyException e = assertThrows(NbdCopy.NbdCopyException.class, () -> c.startUpload(src, 4096,
                NbdUri.unixSocket(dir.resolve("s"), ""), NbdCopy.Destination.FRESH, f -> { }));
        assertTrue(e.getMessage().contains("nbdcopy is not installed"), e.getMessage());
        assertTrue(e.getMessage().contains("libnbd-bin"), e.getMessage());

        NbdCopy.NbdCopyException longer = assertThrows(NbdCopy.NbdCopyException.class, () -> c.startUpload(src, 512,
                NbdUri.unixSocket(dir.resolve("s"), ""), NbdCopy.Destination.FRESH, f -> { }));
        assertTrue(longer.getMessage().contains("qemu-utils"), longer.getMessage());
    }

    @Test
    void givenRelativeOrOddPaths_whenStarted_thenRefused() {
        NbdCopy c = NbdCopy.withSystemTools(RUNNER);
        for (Path bad : List.of(Path.of("src.img"), Path.of("-p"), Path.of("/a/../b"))) {
            assertThrows(IllegalArgumentException.class, () -> c.startUpload(bad, 0,
                    NbdUri.unixSocket(dir.resolve("s"), ""), NbdCopy.Destination.FRESH, f -> { }), bad.toString());
        }
    }

    @Test
    void givenToolAbsent_whenRequired_thenTestFailureNamesPackageAndCiScript() throws Exception {
        AssertionError e = assertThrows(AssertionError.class,
                () -> DebianTools.requireIn(DebianTools.Tool.QEMU_STORAGE_DAEMON, List.of(dir)));

        assertTrue(e.getMessage().startsWith("qemu-storage-daemon is not installed"), e.getMessage());
        assertTrue(e.getMessage().contains("Debian package qemu-system-common"), e.getMessage());
        assertTrue(e.getMessage().contains(".ci/run"), e.getMessage());
        assertEquals(List.of("qemu-system-common", "qemu-utils", "libnbd-bin"), DebianTools.packages());

        Path fake = dir.resolve("nbdinfo");
        Files.write(fake, new byte[0]);
        assertTrue(fake.toFile().setExecutable(true));
        assertEquals(fake, DebianTools.requireIn(DebianTools.Tool.NBDINFO, List.of(dir)));
    }
}
