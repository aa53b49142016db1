package org.xenstorage.migrate.mirror;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.idl.wire.WireCodec;
import org.xenstorage.statefile.AtomicFile;

/**
 * The file behind a table of operations in flight ({@link CopyRecords}, {@link MirrorRecords}): one JSON document of
 * type {@code T}, written whole with {@link AtomicFile} (temp, fsync, rename; 0600), read once at start to find
 * what a previous run left. Absent: the table lives in memory only.
 */
final class RecordFile<T> {
    private static final Logger LOG = LoggerFactory.getLogger(RecordFile.class);

    private final Optional<Path> file;
    private final Class<T> type;
    private final String what;

    /** {@code what} names the content in logs and errors, e.g. "copy state". */
    RecordFile(Optional<Path> file, Class<T> type, String what) {
        this.file = file;
        this.type = type;
        this.what = what;
    }

    /** What a previous run left; an unreadable file is logged and counts as empty. */
    Optional<T> previous() {
        if (file.isEmpty()) {
            return Optional.empty();
        }
        Path f = file.get();
        try {
            AtomicFile.removeStaleTemporaries(f.toAbsolutePath().getParent());
            Optional<byte[]> bytes = AtomicFile.read(f);
            if (bytes.isPresent() && bytes.get().length > 0) {
                return Optional.of(WireCodec.fromJson(new String(bytes.get(), StandardCharsets.UTF_8), type));
            }
        } catch (IOException | RuntimeException e) {
            LOG.warn("ignoring unreadable {} {}: {}", what, f, e.toString());
        }
        return Optional.empty();
    }

    /** Replaces the file's content with {@code table} (nothing when in memory); fails loudly when it cannot. */
    void save(T table) {
        if (file.isEmpty()) {
            return;
        }
        try {
            AtomicFile.write(file.get(), WireCodec.toJson(table, type).getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot persist " + what + " " + file.get(), e);
        }
    }
}
