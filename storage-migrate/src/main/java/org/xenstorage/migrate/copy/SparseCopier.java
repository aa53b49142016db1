package org.xenstorage.migrate.copy;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Copies the first {@code length} bytes of a file or block device onto another, sparsely: zero
 * blocks are never written, so holes in the source stay holes in a destination that starts out
 * zeroed. The destination is pre-sized (regular files) and fsynced at the end.
 *
 * <p>Two destination modes:
 * <ul>
 *   <li><b>prezeroed</b> (a freshly created VDI): zero source blocks are skipped outright;</li>
 *   <li><b>not prezeroed</b> (a clone of a similar VDI): the destination block is read first and only
 *       blocks that differ are written (zeros included), which makes an incremental copy correct.</li>
 * </ul>
 * Source holes known from {@link DataExtents} are not even read. Zero detection is in memory at
 * {@link #SPARSE_GRANULARITY} bytes, the usual filesystem block, with the JDK's vectorised mismatch.
 *
 * <p>Not thread-safe per instance (it owns its buffers); create one per concurrent copy.
 */
public final class SparseCopier {

    /** Zero runs shorter than this are written; it matches the filesystem block so holes stay aligned. */
    public static final int SPARSE_GRANULARITY = 4096;

    /** Default read size: large enough to amortise syscalls, small enough for prompt cancellation. */
    public static final int DEFAULT_BLOCK = 4 << 20;

    private final int blockSize;
    private final DataExtents extents;
    private final ByteBuffer src;
    private final ByteBuffer dst;
    private final ByteBuffer zeros;

    /**
     * @param blockSize bytes per read; a positive multiple of {@link #SPARSE_GRANULARITY}
     * @param extents   how to find the source's holes ({@link DataExtents#disabled()} reads everything)
     */
    public SparseCopier(int blockSize, DataExtents extents) {
        if (blockSize <= 0 || blockSize % SPARSE_GRANULARITY != 0) {
            throw new IllegalArgumentException("block size must be a positive multiple of " + SPARSE_GRANULARITY);
        }
        this.blockSize = blockSize;
        this.extents = Objects.requireNonNull(extents);
        this.src = ByteBuffer.allocateDirect(blockSize);
        this.dst = ByteBuffer.allocateDirect(blockSize);
        this.zeros = ByteBuffer.allocateDirect(blockSize);
    }

    /**
     * Copies bytes {@code [0, length)} of {@code source} onto {@code destination} (which must exist).
     *
     * @param prezeroed true when the destination is known to read as zeros everywhere
     * @param monitor   told of progress between blocks; its exceptions abort the copy
     * @throws IOException on any read/write failure (e.g. ENOSPC on the destination), or when the
     *                     source is shorter than {@code length}
     */
    public CopyStats copy(Path source, Path destination, long length, boolean prezeroed, CopyMonitor monitor)
            throws IOException {
        if (length < 0) {
            throw new IllegalArgumentException("negative length");
        }
        if (!Files.exists(destination)) {
            throw new NoSuchFileException(destination.toString(), null, "destination must exist");
        }
        if (Files.isRegularFile(source) && Files.size(source) < length) {
            throw new IOException("source " + source + " holds " + Files.size(source) + " bytes, fewer than the "
                    + length + " to copy");
        }
        long start = System.nanoTime();
        Counters c = new Counters();
        Optional<List<DataExtents.Extent>> map = prezeroed ? extents.of(source) : Optional.empty();
        boolean regularDest = Files.isRegularFile(destination);
        try (FileChannel in = FileChannel.open(source, StandardOpenOption.READ);
             RandomAccessFile outFile = new RandomAccessFile(destination.toFile(), "rw")) {
            FileChannel out = outFile.getChannel();
            if (regularDest && outFile.length() < length) {
                outFile.setLength(length); // pre-size: the tail stays a hole
            }
            if (map.isPresent()) {
                long pos = 0;
                for (DataExtents.Extent e : map.get()) {
                    long from = Math.min(e.start(), length);
                    long to = Math.min(e.end(), length);
                    skipHole(pos, from, length, c, monitor);
                    copyRange(in, out, from, to, length, true, c, monitor);
                    pos = Math.max(pos, to);
                    if (pos >= length) {
                        break;
                    }
                }
                skipHole(pos, length, length, c, monitor);
            } else {
                copyRange(in, out, 0, length, length, prezeroed, c, monitor);
            }
            out.force(true);
        }
        return new CopyStats(length, c.read, c.written, c.zeroSkipped, Duration.ofNanos(System.nanoTime() - start));
    }

    private static final class Counters {
        long read;
        long written;
        long zeroSkipped;
    }

    /** A source hole: nothing to read or write on a prezeroed destination, only progress to report. */
    private void skipHole(long from, long to, long total, Counters c, CopyMonitor monitor) {
        for (long pos = from; pos < to; ) {
            long n = Math.min((long) blockSize * 16, to - pos);
            pos += n;
            c.zeroSkipped += n;
            monitor.advanced(pos, total);
        }
    }

    private void copyRange(FileChannel in, FileChannel out, long from, long to, long total, boolean prezeroed,
                           Counters c, CopyMonitor monitor) throws IOException {
        long pos = from;
        while (pos < to) {
            int n = (int) Math.min(blockSize, to - pos);
            readFully(in, src, pos, n, true);
            c.read += n;
            if (prezeroed) {
                writeNonZeroRuns(out, pos, n, c);
            } else {
                readFully(out, dst, pos, n, false);
                writeChangedRuns(out, pos, n, c);
            }
            pos += n;
            monitor.advanced(pos, total);
        }
    }

    /** Writes each maximal run of non-zero granules of {@code src[0, n)} at its offset; skips zero granules. */
    private void writeNonZeroRuns(FileChannel out, long base, int n, Counters c) throws IOException {
        int runStart = -1;
        for (int off = 0; off < n; off += SPARSE_GRANULARITY) {
            int len = Math.min(SPARSE_GRANULARITY, n - off);
            boolean zero = isZero(src, off, len);
            if (!zero && runStart < 0) {
                runStart = off;
            } else if (zero) {
                c.zeroSkipped += len;
                if (runStart >= 0) {
                    writeFully(out, src, runStart, off - runStart, base + runStart, c);
                    runStart = -1;
                }
            }
        }
        if (runStart >= 0) {
            writeFully(out, src, runStart, n - runStart, base + runStart, c);
        }
    }

    /** Incremental mode: writes each maximal run of granules where source and destination differ. */
    private void writeChangedRuns(FileChannel out, long base, int n, Counters c) throws IOException {
        int runStart = -1;
        for (int off = 0; off < n; off += SPARSE_GRANULARITY) {
            int len = Math.min(SPARSE_GRANULARITY, n - off);
            boolean same = src.slice(off, len).mismatch(dst.slice(off, len)) < 0;
            if (same && isZero(src, off, len)) {
                c.zeroSkipped += len;
            }
            if (!same && runStart < 0) {
                runStart = off;
            } else if (same && runStart >= 0) {
                writeFully(out, src, runStart, off - runStart, base + runStart, c);
                runStart = -1;
            }
        }
        if (runStart >= 0) {
            writeFully(out, src, runStart, n - runStart, base + runStart, c);
        }
    }

    private boolean isZero(ByteBuffer buf, int off, int len) {
        return buf.slice(off, len).mismatch(zeros.slice(0, len)) < 0;
    }

    /**
     * Reads exactly {@code n} bytes at {@code pos}. A short source is an error; a short destination
     * (its tail beyond EOF) reads as zeros, which is what the file will contain there.
     */
    private static void readFully(FileChannel ch, ByteBuffer buf, long pos, int n, boolean strict) throws IOException {
        buf.clear().limit(n);
        while (buf.hasRemaining()) {
            int r = ch.read(buf, pos + buf.position());
            if (r < 0) {
                if (strict) {
                    throw new IOException("source ended at byte " + (pos + buf.position()) + ", expected "
                            + (pos + n));
                }
                while (buf.hasRemaining()) {
                    buf.put((byte) 0);
                }
            }
        }
    }

    private static void writeFully(FileChannel out, ByteBuffer buf, int off, int len, long at, Counters c)
            throws IOException {
        ByteBuffer view = buf.slice(off, len);
        while (view.hasRemaining()) {
            out.write(view, at + view.position());
        }
        c.written += len;
    }
}
