package org.xenstorage.migrate.copy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.exec.ChildProcessRunner;
import org.xenstorage.exec.ProcessTree;
import org.xenstorage.testing.DebianTools;
import org.xenstorage.testing.DebianTools.Tool;
import org.xenstorage.testing.Soon;

/**
 * {@link NbdCopy} with the real tools: nbdcopy and nbdinfo (libnbd-bin) against a real qemu-storage-daemon
 * (qemu-system-common) exporting raw files, and qemu-nbd (qemu-utils) for a source longer than the range.
 * A missing tool fails the class with the Debian package to install ({@link DebianTools}).
 */
class NbdCopyIT {
    private static final long MIB = 1 << 20;
    private static final ChildProcessRunner RUNNER = new ChildProcessRunner();
    private static NbdCopy copier;

    @TempDir
    Path dir;

    @BeforeAll
    static void tools() {
        copier = new NbdCopy(RUNNER, DebianTools.require(Tool.NBDCOPY), DebianTools.require(Tool.NBDINFO),
                DebianTools.require(Tool.QEMU_NBD));
        DebianTools.require(Tool.QEMU_STORAGE_DAEMON);
    }

    @AfterAll
    static void closeRunner() {
        RUNNER.close();
    }

    /** 64 MiB: data at 0 (1 MiB), 10 MiB (4 KiB), 40 MiB + 512 (3 MiB), explicit zeros at 20 MiB (2 MiB). */
    private Path sparseSource(String name) throws IOException {
        Path src = dir.resolve(name);
        Disk.sparse(src, 64 * MIB);
        Disk.random(src, 0, (int) MIB, 1);
        Disk.random(src, 10 * MIB, 4096, 2);
        Disk.zeros(src, 20 * MIB, (int) (2 * MIB));
        Disk.random(src, 40 * MIB + 512, (int) (3 * MIB), 3);
        return src;
    }

    /** Bytes of data in {@link #sparseSource}, in whole 4 KiB blocks (the 3 MiB run at +512 spans one more). */
    private static final long SPARSE_SOURCE_DATA = MIB + 4096 + 3 * MIB + 4096;

    private Path exportDir(String name) throws IOException {
        return Files.createDirectory(dir.resolve(name));
    }

    @Test
    void givenSparseSourceWithZeroRuns_whenUploadedToFreshUnixExport_thenBytesEqualAndHolesAndZerosNotWritten()
            throws Exception {
        Path src = sparseSource("src.img");
        Path dst = dir.resolve("dst.img");
        Disk.sparse(dst, 64 * MIB);

        NbdCopy.Result result;
        try (QemuExport export = QemuExport.unix(dst, exportDir("e"))) {
            result = copier.upload(src, 64 * MIB, export.uri(), NbdCopy.Destination.FRESH, f -> { });
        }

        assertEquals(Disk.sha256(src, 64 * MIB), Disk.sha256(dst, 64 * MIB));
        assertEquals(64 * MIB, Files.size(dst));
        assertEquals(64 * MIB, result.length());
        assertTrue(Disk.allocated(src) >= SPARSE_SOURCE_DATA + 2 * MIB, "the source really holds explicit zeros");
        long allocated = Disk.allocated(dst);
        assertTrue(allocated >= SPARSE_SOURCE_DATA, "data written: " + allocated);
        assertTrue(allocated <= SPARSE_SOURCE_DATA + 256 * 1024,
                "holes and the explicit zero run were not written: " + allocated + " bytes allocated");
    }

    @Test
    void givenDestinationHoldingOtherData_whenUploadedAsOverwrite_thenBytesEqualZerosIncluded() throws Exception {
        Path src = sparseSource("src.img");
        Path dst = dir.resolve("dst.img");
        Disk.sparse(dst, 64 * MIB);
        for (long at = 0; at < 64 * MIB; at += 8 * MIB) {
            Disk.random(dst, at, (int) MIB, at); // old data where the source has holes, zeros and data
        }
        Disk.random(dst, 20 * MIB, (int) MIB, 99);

        try (QemuExport export = QemuExport.unix(dst, exportDir("e"))) {
            copier.upload(src, 64 * MIB, export.uri(), NbdCopy.Destination.OVERWRITE, f -> { });
        }

        assertEquals(Disk.sha256(src, 64 * MIB), Disk.sha256(dst, 64 * MIB), "old data overwritten, zeros too");
    }

    @Test
    void givenLargeSparseImage_whenUploaded_thenProgressRisesToOneAndEndsThere() throws Exception {
        long size = 1024 * MIB; // nbdcopy reports per 128 MiB of work: 1 GiB gives several steps
        Path src = dir.resolve("src.img");
        Disk.sparse(src, size);
        for (long at = 0; at < size; at += 128 * MIB) {
            Disk.random(src, at + 5 * MIB, 64 * 1024, at);
        }
        Path dst = dir.resolve("dst.img");
        Disk.sparse(dst, size);
        List<Double> seen = Collections.synchronizedList(new ArrayList<>());

        try (QemuExport export = QemuExport.unix(dst, exportDir("e"))) {
            copier.upload(src, size, export.uri(), NbdCopy.Destination.FRESH, seen::add);
        }

        assertEquals(Disk.sha256(src, size), Disk.sha256(dst, size));
        assertEquals(0.0, seen.get(0), "starts at 0: " + seen);
        assertEquals(1.0, seen.get(seen.size() - 1), "ends at 1.0: " + seen);
        assertEquals(1, seen.stream().filter(f -> f == 1.0).count(), "1.0 told once, at the end: " + seen);
        for (int i = 1; i < seen.size(); i++) {
            assertTrue(seen.get(i) > seen.get(i - 1), "strictly rising: " + seen);
        }
        assertTrue(seen.size() >= 4, "intermediate steps reported: " + seen);
    }

    @Test
    void givenSparseExport_whenDownloadedToFreshFile_thenBytesEqualAndHolesPreserved() throws Exception {
        Path src = sparseSource("src.img");
        Path dst = Files.createFile(dir.resolve("dst.img"));

        try (QemuExport export = QemuExport.unixReadOnly(src, exportDir("e"))) {
            copier.download(export.uri(), 64 * MIB, dst, NbdCopy.Destination.FRESH, f -> { });
        }

        assertEquals(Disk.sha256(src, 64 * MIB), Disk.sha256(dst, 64 * MIB));
        assertEquals(64 * MIB, Files.size(dst), "sized to the export");
        long allocated = Disk.allocated(dst);
        assertTrue(allocated <= SPARSE_SOURCE_DATA + 256 * 1024, "holes and zero runs kept: " + allocated);
    }

    @Test
    void givenExportOfOtherSize_whenDownloaded_thenRefusedBeforeAnyByteMoves() throws Exception {
        Path src = sparseSource("src.img");
        Path dst = Files.createFile(dir.resolve("dst.img"));

        try (QemuExport export = QemuExport.unixReadOnly(src, exportDir("e"))) {
            IOException e = assertThrows(IOException.class,
                    () -> copier.download(export.uri(), 32 * MIB, dst, NbdCopy.Destination.FRESH, f -> { }));
            assertTrue(e.getMessage().contains(String.valueOf(64 * MIB)), e.getMessage());
        }
        assertEquals(0, Files.size(dst));
    }

    @Test
    void givenTcpExport_whenUploaded_thenBytesEqual() throws Exception {
        Path src = sparseSource("src.img");
        Path dst = dir.resolve("dst.img");
        Disk.sparse(dst, 64 * MIB);
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }

        try (QemuExport export = QemuExport.tcp(dst, exportDir("e"), port)) {
            assertTrue(export.uri().text().startsWith("nbd://127.0.0.1:" + port + "/"), export.uri().text());
            copier.upload(src, 64 * MIB, export.uri(), NbdCopy.Destination.FRESH, f -> { });
        }

        assertEquals(Disk.sha256(src, 64 * MIB), Disk.sha256(dst, 64 * MIB));
    }

    @Test
    void givenSourceLongerThanRange_whenUploaded_thenOnlyTheRangeIsCopiedThroughQemuNbd() throws Exception {
        Path src = sparseSource("src.img");
        Disk.random(src, 64 * MIB, (int) MIB, 7); // 1 MiB past the range, as on a rounded-up volume
        assertEquals(65 * MIB, Files.size(src));
        Path dst = dir.resolve("dst.img");
        Disk.sparse(dst, 64 * MIB);

        try (QemuExport export = QemuExport.unix(dst, exportDir("e"))) {
            copier.upload(src, 64 * MIB, export.uri(), NbdCopy.Destination.FRESH, f -> { });
        }

        assertEquals(Disk.sha256(src, 64 * MIB), Disk.sha256(dst, 64 * MIB));
        assertEquals(64 * MIB, Files.size(dst));
        assertTrue(Disk.allocated(dst) <= SPARSE_SOURCE_DATA + 256 * 1024, "still sparse: " + Disk.allocated(dst));
    }

    @Test
    void givenBlockDeviceSource_whenUploadedWholeAndInPart_thenBytesEqual() throws Exception {
        Path backing = sparseSource("backing.img");
        Path device = Loop.attach(RUNNER, backing);
        try {
            Path whole = dir.resolve("whole.img");
            Disk.sparse(whole, 64 * MIB);
            try (QemuExport export = QemuExport.unix(whole, exportDir("e1"))) {
                copier.upload(device, 64 * MIB, export.uri(), NbdCopy.Destination.FRESH, f -> { });
            }
            assertEquals(Disk.sha256(backing, 64 * MIB), Disk.sha256(whole, 64 * MIB));

            Path part = dir.resolve("part.img"); // the device is longer than the range: read through qemu-nbd
            Disk.sparse(part, 48 * MIB);
            try (QemuExport export = QemuExport.unix(part, exportDir("e2"))) {
                copier.upload(device, 48 * MIB, export.uri(), NbdCopy.Destination.FRESH, f -> { });
            }
            assertEquals(Disk.sha256(backing, 48 * MIB), Disk.sha256(part, 48 * MIB));
        } finally {
            Loop.detach(RUNNER, device);
        }
    }

    @Test
    void givenLargeCopyIntoSlowExport_whenCancelledMidCopy_thenItStopsPromptlyAndLeavesNoProcess() throws Exception {
        long size = 256 * MIB;
        Path src = dir.resolve("src.img");
        Disk.sparse(src, size);
        byte[] block = new byte[(int) (4 * MIB)];
        java.util.Arrays.fill(block, (byte) 0x5a);
        for (long at = 0; at < size; at += block.length) {
            Disk.write(src, at, block); // all data: nothing to skip
        }
        Path dst = dir.resolve("dst.img");
        Disk.sparse(dst, size);
        List<Double> seen = Collections.synchronizedList(new ArrayList<>());

        // 8 MiB/s: the whole copy would take about 32 s, so the cancel surely lands in the middle
        try (QemuExport export = QemuExport.unixThrottled(dst, exportDir("e"), 8 * MIB)) {
            NbdCopy.Running running = copier.startUpload(src, size, export.uri(), NbdCopy.Destination.FRESH,
                    seen::add);
            long pid = running.pid();
            Soon.await("the first bytes reach the destination", () -> Disk.allocated(dst) > 0);

            running.cancel();

            CompletableFuture<Throwable> ended = CompletableFuture.supplyAsync(() -> {
                try {
                    running.await();
                    return null;
                } catch (Throwable t) {
                    return t;
                }
            });
            Throwable outcome = Soon.get(ended);
            assertTrue(outcome instanceof CancellationException, "await after cancel: " + outcome);
            assertTrue(ProcessHandle.of(pid).map(ProcessTree::gone).orElse(true), "nbdcopy is gone");
            assertTrue(NbdCopy.groupMembers(pid).isEmpty(), "nothing left in its process group");
            assertTrue(Disk.allocated(dst) < size, "stopped mid-copy: " + Disk.allocated(dst));
            assertTrue(seen.stream().allMatch(f -> f < 1.0), "never reported done: " + seen);
            assertTrue(export.isAlive(), "the export survives a cancelled client");
            running.cancel(); // again: harmless
        }
    }

    @Test
    void givenCopyRunning_whenAwaitingThreadInterrupted_thenCopyCancelledAndNoProcessLeft() throws Exception {
        Path src = sparseSource("src.img");
        Path dst = dir.resolve("dst.img");
        Disk.sparse(dst, 64 * MIB);

        try (QemuExport export = QemuExport.unixThrottled(dst, exportDir("e"), MIB)) {
            NbdCopy.Running running = copier.startUpload(src, 64 * MIB, export.uri(), NbdCopy.Destination.FRESH,
                    f -> { });
            CompletableFuture<Throwable> outcome = new CompletableFuture<>();
            Thread waiter = new Thread(() -> {
                try {
                    running.await();
                    outcome.complete(null);
                } catch (Throwable t) {
                    outcome.complete(t);
                }
            }, "nbdcopy-waiter");
            waiter.start();
            Soon.await("the waiter blocks in await", () -> waiter.getState() == Thread.State.WAITING
                    || waiter.getState() == Thread.State.TIMED_WAITING);

            waiter.interrupt();

            assertTrue(Soon.get(outcome) instanceof InterruptedException, "await interrupted");
            assertTrue(running.isCancelled(), "an interrupted wait cancels the copy");
            Soon.await("nbdcopy gone", () -> ProcessHandle.of(running.pid()).map(ProcessTree::gone).orElse(true));
            assertTrue(NbdCopy.groupMembers(running.pid()).isEmpty(), "nothing left in its process group");
        }
    }

    @Test
    void givenNoServerOnTheSocket_whenUploaded_thenClearErrorNamingTheExport() throws Exception {
        Path src = sparseSource("src.img");
        NbdUri missing = NbdUri.unixSocket(dir.resolve("absent.sock"), QemuExport.EXPORT_NAME);
        Path stale = dir.resolve("stale.sock"); // a socket file nobody listens on any more
        try (ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            s.bind(UnixDomainSocketAddress.of(stale));
        }
        NbdUri refused = NbdUri.unixSocket(stale, QemuExport.EXPORT_NAME);

        for (NbdUri uri : List.of(missing, refused)) {
            NbdCopy.NbdCopyException e = assertThrows(NbdCopy.NbdCopyException.class,
                    () -> copier.upload(src, 64 * MIB, uri, NbdCopy.Destination.FRESH, f -> { }));
            assertTrue(e.getMessage().contains(uri.text()), e.getMessage());
            assertTrue(e.getMessage().contains("cannot reach the NBD export"), e.getMessage());
            assertTrue(e.exitStatus() > 0, "exit status " + e.exitStatus());
        }
    }

    @Test
    void givenExportSmallerThanSource_whenUploaded_thenClearError() throws Exception {
        Path src = sparseSource("src.img");
        Path dst = dir.resolve("dst.img");
        Disk.sparse(dst, 32 * MIB);

        try (QemuExport export = QemuExport.unix(dst, exportDir("e"))) {
            NbdCopy.NbdCopyException e = assertThrows(NbdCopy.NbdCopyException.class,
                    () -> copier.upload(src, 64 * MIB, export.uri(), NbdCopy.Destination.FRESH, f -> { }));
            assertTrue(e.getMessage().contains("smaller"), e.getMessage());
        }
    }

    @Test
    void givenProgressCallbackThrows_whenCopying_thenCopyStopsAndAwaitThrowsIt() throws Exception {
        Path src = sparseSource("src.img");
        Path dst = dir.resolve("dst.img");
        Disk.sparse(dst, 64 * MIB);
        IllegalStateException stop = new IllegalStateException("task cancelled");

        try (QemuExport export = QemuExport.unixThrottled(dst, exportDir("e"), 2 * MIB)) {
            NbdCopy.Running running = copier.startUpload(src, 64 * MIB, export.uri(), NbdCopy.Destination.FRESH,
                    f -> {
                        throw stop;
                    });
            IllegalStateException thrown = assertThrows(IllegalStateException.class, running::await);
            assertEquals(stop, thrown);
            assertTrue(ProcessHandle.of(running.pid()).map(ProcessTree::gone).orElse(true), "nbdcopy is gone");
        }
    }

    @Test
    void givenSourceShorterThanRange_whenUploaded_thenRefusedAtOnce() throws Exception {
        Path src = sparseSource("src.img");
        IOException e = assertThrows(IOException.class, () -> copier.startUpload(src, 65 * MIB,
                NbdUri.unixSocket(dir.resolve("x.sock"), ""), NbdCopy.Destination.FRESH, f -> { }));
        assertTrue(e.getMessage().contains("fewer than"), e.getMessage());
    }
}
