package org.xenstorage.migrate.copy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.exec.ChildProcessRunner;

/** The copy engine on real sparse files. */
class SparseCopierTest {
    private static final long MIB = 1 << 20;
    private static final ChildProcessRunner RUNNER = new ChildProcessRunner();

    @TempDir
    Path dir;

    @AfterAll
    static void closeRunner() {
        RUNNER.close();
    }

    /** 64 MiB: data at 0 (1 MiB), 10 MiB (4 KiB), 40 MiB (3 MiB + a bit), explicit zeros at 20 MiB (2 MiB). */
    private Path sparseSource() throws IOException {
        Path src = dir.resolve("src.img");
        Disk.sparse(src, 64 * MIB);
        Disk.random(src, 0, (int) MIB, 1);
        Disk.random(src, 10 * MIB, 4096, 2);
        Disk.zeros(src, 20 * MIB, (int) (2 * MIB));
        Disk.random(src, 40 * MIB + 512, (int) (3 * MIB), 3);
        return src;
    }

    private static SparseCopier copier(DataExtents extents) {
        return new SparseCopier(SparseCopier.DEFAULT_BLOCK, extents);
    }

    @Test
    void givenSparseSource_whenCopiedOntoEmptyFile_thenBytesIdenticalAndHolesPreserved() throws IOException {
        Path src = sparseSource();
        Path dst = Files.createFile(dir.resolve("dst.img"));

        CopyStats stats = copier(DataExtents.withSystemPython(RUNNER)).copy(src, dst, 64 * MIB, true, CopyMonitor.NONE);

        assertEquals(Disk.sha256(src, 64 * MIB), Disk.sha256(dst, 64 * MIB));
        assertEquals(64 * MIB, Files.size(dst), "pre-sized to the virtual size");
        long nonZero = MIB + 4096 + 3 * MIB + 4096; // the 3 MiB run at +512 spans one more 4 KiB granule
        assertTrue(Disk.allocated(src) >= nonZero + 2 * MIB, "source really holds its explicit zeros");
        long dstAllocated = Disk.allocated(dst);
        assertTrue(dstAllocated >= nonZero, "data written: " + dstAllocated);
        assertTrue(dstAllocated <= nonZero + 256 * 1024, "holes and zero runs stay unallocated: " + dstAllocated);
        assertEquals(nonZero, stats.bytesWritten());
        assertTrue(stats.bytesRead() < 16 * MIB, "holes found by the extent map are not read: " + stats.bytesRead());
    }

    @Test
    void givenNoExtentMap_whenCopied_thenSameBytesAndHolesFromZeroDetection() throws IOException {
        Path src = sparseSource();
        Path dst = Files.createFile(dir.resolve("dst.img"));

        CopyStats stats = copier(DataExtents.disabled()).copy(src, dst, 64 * MIB, true, CopyMonitor.NONE);

        assertEquals(Disk.sha256(src, 64 * MIB), Disk.sha256(dst, 64 * MIB));
        assertEquals(64 * MIB, stats.bytesRead(), "every byte read when holes are unknown");
        assertTrue(Disk.allocated(dst) <= 5 * MIB + 256 * 1024, "zero blocks not written: " + Disk.allocated(dst));
    }

    @Test
    void givenPopulatedDestination_whenCopiedIncrementally_thenOnlyDifferencesWritten() throws IOException {
        Path src = sparseSource();
        Path dst = dir.resolve("dst.img");
        Files.copy(src, dst);
        Disk.random(dst, 10 * MIB, 4096, 99);          // differs from the source
        Disk.random(dst, 50 * MIB, (int) MIB, 98);      // source has a hole here: must become zeros

        CopyStats stats = copier(DataExtents.withSystemPython(RUNNER)).copy(src, dst, 64 * MIB, false,
                CopyMonitor.NONE);

        assertEquals(Disk.sha256(src, 64 * MIB), Disk.sha256(dst, 64 * MIB));
        assertEquals(4096 + MIB, stats.bytesWritten(), "only the changed granules are rewritten");
    }

    @Test
    void givenMonitorThatCancels_whenCopying_thenCopyStopsWithItsException() throws IOException {
        Path src = dir.resolve("full.img");
        Disk.sparse(src, 32 * MIB);
        for (int i = 0; i < 32; i++) {
            Disk.random(src, i * MIB, (int) MIB, i);
        }
        Path dst = Files.createFile(dir.resolve("dst.img"));
        AtomicLong seen = new AtomicLong();

        assertThrows(CancellationException.class, () -> new SparseCopier(1 << 20, DataExtents.disabled())
                .copy(src, dst, 32 * MIB, true, (done, total) -> {
                    seen.set(done);
                    if (done >= 8 * MIB) {
                        throw new CancellationException("cancelled");
                    }
                }));

        assertEquals(8 * MIB, seen.get(), "stopped at the first block boundary after the cancel");
        assertTrue(Disk.allocated(dst) <= 8 * MIB + 64 * 1024, "nothing written after the cancel");
    }

    @Test
    void givenDestinationThatFailsWrites_whenCopying_thenIOExceptionNamesTheFailure() throws IOException {
        Path src = sparseSource();
        IOException e = assertThrows(IOException.class, () -> copier(DataExtents.disabled())
                .copy(src, Path.of("/dev/full"), 64 * MIB, true, CopyMonitor.NONE));
        assertTrue(e.getMessage().contains("space"), e.getMessage());
    }

    @Test
    void givenSourceShorterThanLength_whenCopying_thenRefused() throws IOException {
        Path src = dir.resolve("short.img");
        Disk.sparse(src, MIB);
        Path dst = Files.createFile(dir.resolve("dst.img"));
        IOException e = assertThrows(IOException.class,
                () -> copier(DataExtents.disabled()).copy(src, dst, 2 * MIB, true, CopyMonitor.NONE));
        assertTrue(e.getMessage().contains("fewer"), e.getMessage());
    }

    @Test
    void givenMissingDestination_whenCopying_thenNothingIsCreated() throws IOException {
        Path src = sparseSource();
        Path dst = dir.resolve("absent.img");
        assertThrows(IOException.class, () -> copier(DataExtents.disabled()).copy(src, dst, MIB, true,
                CopyMonitor.NONE));
        assertTrue(Files.notExists(dst));
    }

    @Test
    void extentMapFindsTheDataRuns() throws IOException {
        Path src = sparseSource();
        List<DataExtents.Extent> extents = DataExtents.withSystemPython(RUNNER).of(src).orElseThrow();
        long mapped = extents.stream().mapToLong(DataExtents.Extent::length).sum();
        assertTrue(mapped >= 6 * MIB && mapped < 16 * MIB, "mapped " + mapped + " in " + extents);
        assertEquals(0, extents.get(0).start());
        assertTrue(extents.stream().anyMatch(x -> x.start() <= 40 * MIB && x.end() >= 43 * MIB), extents.toString());
    }

    @Test
    void extentMapOfSomethingUnmappable_isEmpty() {
        assertTrue(DataExtents.withSystemPython(RUNNER).of(Path.of("/dev/null")).isEmpty());
        assertTrue(DataExtents.withSystemPython(RUNNER).of(dir.resolve("nope")).isEmpty());
    }

    @Test
    void extentParserRejectsGarbage() {
        assertThrows(IllegalArgumentException.class, () -> DataExtents.parse("1 2 3\n"));
        assertThrows(IllegalArgumentException.class, () -> DataExtents.parse("10 20\n5 8\n"));
        assertEquals(List.of(new DataExtents.Extent(0, 4096)), DataExtents.parse("0 4096\n\n"));
    }
}
