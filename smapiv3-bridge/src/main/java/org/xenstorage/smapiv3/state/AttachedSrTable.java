package org.xenstorage.smapiv3.state;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.List;
import org.xenstorage.statefile.AtomicFile;

/**
 * The one process-wide table of attached SRs (v2 SR uuid to plugin handle), shared by all volume
 * plugins. Every change rewrites the state file atomically before the call that made it returns,
 * so a {@code kill -9} never loses an attach that xapi was told succeeded.
 */
public final class AttachedSrTable {
    private final Path file;
    private final Map<String, AttachedSr> table = new LinkedHashMap<>();

    private AttachedSrTable(Path file, Map<String, AttachedSr> initial) {
        this.file = file;
        table.putAll(initial);
    }

    /**
     * Loads the table from {@code file} (missing: empty). Reads upstream's state.db text as well as ours,
     * since they are the same format.
     *
     * @throws IOException when the file exists but cannot be read or parsed; refusing to start is safer
     *                     than forgetting attached SRs
     */
    public static AttachedSrTable load(Path file) throws IOException {
        AtomicFile.removeStaleTemporaries(file.toAbsolutePath().getParent());
        Optional<byte[]> bytes = Files.isRegularFile(file) ? AtomicFile.read(file) : Optional.empty();
        if (bytes.isEmpty() || new String(bytes.get(), StandardCharsets.UTF_8).isBlank()) {
            return new AttachedSrTable(file, Map.of());
        }
        try {
            return new AttachedSrTable(file, StateSexp.read(new String(bytes.get(), StandardCharsets.UTF_8)));
        } catch (StateSexp.MalformedState e) {
            throw new IOException("malformed attached-SR state in " + file + ": " + e.getMessage(), e);
        }
    }

    public synchronized Optional<AttachedSr> find(String sr) {
        return Optional.ofNullable(table.get(sr));
    }

    /** Adds or replaces the entry and persists the table. */
    public synchronized void put(String sr, AttachedSr attached) throws IOException {
        AttachedSr previous = table.put(sr, attached);
        try {
            persist();
        } catch (IOException e) {
            // keep memory and disk in step: the caller sees the failure and the SR is not attached
            if (previous == null) {
                table.remove(sr);
            } else {
                table.put(sr, previous);
            }
            throw e;
        }
    }

    /** Removes the entry (if present) and persists the table. */
    public synchronized void remove(String sr) throws IOException {
        AttachedSr previous = table.remove(sr);
        if (previous == null) {
            return;
        }
        try {
            persist();
        } catch (IOException e) {
            table.put(sr, previous);
            throw e;
        }
    }

    /** The attached SR uuids, sorted. */
    public synchronized List<String> srs() {
        return List.copyOf(new TreeSet<>(table.keySet()));
    }

    public synchronized Map<String, AttachedSr> snapshot() {
        return Map.copyOf(table);
    }

    public Path file() {
        return file;
    }

    private void persist() throws IOException {
        AtomicFile.write(file, StateSexp.write(table).getBytes(StandardCharsets.UTF_8));
    }
}
