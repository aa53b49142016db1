package org.xenstorage.migrate.copy;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.xenstorage.exec.ChildProcessRunner;
import org.xenstorage.exec.ExecRequest;
import org.xenstorage.exec.ExecResult;
import org.xenstorage.testing.Soon;

/** Test helpers on real files: sparse images, checksums, and allocation as {@code stat} reports it. */
public final class Disk {
    private static final ChildProcessRunner RUNNER = new ChildProcessRunner();

    private Disk() {
    }

    /** A sparse file of {@code size} bytes (all hole). */
    public static void sparse(Path file, long size) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(size);
        }
    }

    /** Writes {@code len} pseudo-random bytes at {@code at} (first byte forced non-zero). */
    public static void random(Path file, long at, int len, long seed) throws IOException {
        byte[] b = new byte[len];
        new Random(seed).nextBytes(b);
        b[0] = 1;
        write(file, at, b);
    }

    /** Writes {@code len} explicit zero bytes at {@code at} (allocated, but all zero). */
    public static void zeros(Path file, long at, int len) throws IOException {
        write(file, at, new byte[len]);
    }

    public static void write(Path file, long at, byte[] b) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ByteBuffer buf = ByteBuffer.wrap(b);
            while (buf.hasRemaining()) {
                ch.write(buf, at + buf.position());
            }
        }
    }

    /** SHA-256 of the first {@code length} bytes (bytes past EOF count as zeros, as a VDI's do). */
    public static String sha256(Path file, long length) throws IOException {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] chunk = new byte[1 << 20];
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                long pos = 0;
                while (pos < length) {
                    int want = (int) Math.min(chunk.length, length - pos);
                    ByteBuffer buf = ByteBuffer.wrap(chunk, 0, want);
                    while (buf.hasRemaining()) {
                        if (ch.read(buf, pos + buf.position()) < 0) {
                            Arrays.fill(chunk, buf.position(), want, (byte) 0);
                            break;
                        }
                    }
                    md.update(chunk, 0, want);
                    pos += want;
                }
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Bytes the filesystem has allocated to the file ({@code stat -c '%b %B'}: blocks times block unit). */
    public static long allocated(Path file) throws IOException {
        ExecResult r = RUNNER.run(ExecRequest.of(List.of("/usr/bin/stat", "-c", "%b %B", file.toString()),
                Map.of("LC_ALL", "C"), Soon.timeout()));
        if (!r.succeeded()) {
            throw new IOException("stat failed: " + r.stderrText());
        }
        String[] parts = r.stdoutText().trim().split(" ");
        return Long.parseLong(parts[0]) * Long.parseLong(parts[1]);
    }
}
