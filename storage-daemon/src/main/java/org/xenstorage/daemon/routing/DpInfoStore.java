package org.xenstorage.daemon.routing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.statefile.AtomicFile;

/**
 * DP_info records, one file per datapath as upstream, in the mux's own directory. The file name is the
 * URL-encoded dp (upstream replaces {@code /} by {@code -}, so {@code a/b} and {@code a-b} collide: a QUIRK
 * fixed here). Content is upstream's: {@code {"read_write":true,"vm":"0","vdi":"..","sr":".."}}.
 * A record that cannot be read counts as missing, as upstream.
 */
public final class DpInfoStore {
    private static final Logger LOG = LoggerFactory.getLogger(DpInfoStore.class);

    private static final String PREFIX = "dp-";

    private final Path dir;
    private final Map<String, DpInfo> cache = new ConcurrentHashMap<>();

    private DpInfoStore(Path dir) {
        this.dir = dir;
    }

    /** Opens (creating, 0700) the directory and reads every record in it. */
    public static DpInfoStore open(Path dir) throws IOException {
        AtomicFile.createPrivateDirectories(dir);
        AtomicFile.removeStaleTemporaries(dir);
        DpInfoStore s = new DpInfoStore(dir);
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            for (Path f : files) {
                String name = f.getFileName().toString();
                if (!name.startsWith(PREFIX)) {
                    continue; // e.g. a temporary file left by a crash
                }
                String dp;
                try {
                    dp = URLDecoder.decode(name.substring(PREFIX.length()), StandardCharsets.UTF_8);
                } catch (IllegalArgumentException e) {
                    LOG.warn("ignoring DP_info file with an undecodable name: {}", f);
                    continue;
                }
                s.readFile(f).ifPresent(info -> s.cache.put(dp, info));
            }
        }
        return s;
    }

    public Optional<DpInfo> get(String dp) {
        return Optional.ofNullable(cache.get(dp));
    }

    /** Every record, by dp. */
    public Map<String, DpInfo> all() {
        return new TreeMap<>(cache);
    }

    /** Writes (atomically) and remembers the record. */
    public void put(String dp, DpInfo info) {
        ObjectNode o = Json.NODES.objectNode();
        o.put("read_write", info.readWrite());
        o.put("vm", info.vm());
        o.put("vdi", info.vdi());
        o.put("sr", info.sr());
        try {
            AtomicFile.write(fileOf(dp), Json.write(o).getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write DP_info of " + dp, e);
        }
        cache.put(dp, info);
    }

    /** Forgets the record (no error if absent). */
    public void remove(String dp) {
        cache.remove(dp);
        try {
            AtomicFile.delete(fileOf(dp));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete DP_info of " + dp, e);
        }
    }

    private Path fileOf(String dp) {
        // URL encoding leaves only [A-Za-z0-9.*_%+-] and the prefix rules out "", "." and ".."
        return dir.resolve(PREFIX + URLEncoder.encode(dp, StandardCharsets.UTF_8));
    }

    private Optional<DpInfo> readFile(Path f) {
        try {
            Optional<byte[]> bytes = AtomicFile.read(f);
            if (bytes.isEmpty()) {
                return Optional.empty();
            }
            JsonNode o = Json.parse(new String(bytes.get(), StandardCharsets.UTF_8));
            JsonNode rw = o.get("read_write");
            return Optional.of(new DpInfo(o.get("sr").textValue(), o.get("vdi").textValue(),
                    o.get("vm").textValue(), rw == null || rw.asBoolean(true)));
        } catch (IOException | RuntimeException e) {
            LOG.warn("ignoring unreadable DP_info file {}: {}", f, e.toString());
            return Optional.empty();
        }
    }
}
