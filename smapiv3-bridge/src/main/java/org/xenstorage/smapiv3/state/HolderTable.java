package org.xenstorage.smapiv3.state;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.DpState;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.idl.wire.WireCodec;
import org.xenstorage.statefile.AtomicFile;

/**
 * The bridge's per-volume datapath holders ({@link HeldVolume}), shared by all volume plugins and persisted
 * in one file ({@code datapaths.json} beside {@code state.db}) that is rewritten atomically (write, fsync,
 * rename) on every change, before the call that made it returns. Volumes nobody holds are not kept.
 */
public final class HolderTable {
    /** The file's name in the bridge's state directory. */
    public static final String FILE = "datapaths.json";

    private final Path file;
    private final Map<String, HeldVolume> table = new TreeMap<>();
    private final ConcurrentHashMap<String, Object> locks = new ConcurrentHashMap<>();

    private HolderTable(Path file) {
        this.file = file;
    }

    /**
     * Loads the table from {@code file} (missing: empty).
     *
     * @throws IOException when the file exists but cannot be read or parsed: refusing to start is safer than
     *                     forgetting who holds a volume
     */
    public static HolderTable load(Path file) throws IOException {
        HolderTable t = new HolderTable(file);
        Optional<byte[]> bytes = Files.isRegularFile(file) ? AtomicFile.read(file) : Optional.empty();
        if (bytes.isEmpty()) {
            return t;
        }
        try {
            JsonNode root = Json.parse(new String(bytes.get(), StandardCharsets.UTF_8));
            for (JsonNode v : root.path("volumes")) {
                HeldVolume h = read(v);
                t.table.put(key(h.sr(), h.vdi()), h);
            }
        } catch (IOException | RuntimeException e) {
            throw new IOException("malformed datapath holders in " + file + ": " + e.getMessage(), e);
        }
        return t;
    }

    /** The volume's holders, or an empty record whose attachment would be made for {@code domain}. */
    public synchronized HeldVolume get(String sr, String vdi, String domain) {
        HeldVolume h = table.get(key(sr, vdi));
        return h != null ? h : HeldVolume.unheld(sr, vdi, domain);
    }

    public synchronized Optional<HeldVolume> find(String sr, String vdi) {
        return Optional.ofNullable(table.get(key(sr, vdi)));
    }

    /** Every held volume of {@code sr}. */
    public synchronized List<HeldVolume> ofSr(String sr) {
        return table.values().stream().filter(h -> h.sr().equals(sr)).toList();
    }

    /** Every held volume. */
    public synchronized List<HeldVolume> all() {
        return List.copyOf(table.values());
    }

    /** Records {@code h} (forgetting it when nobody holds it) and persists; on failure nothing changed. */
    public synchronized void put(HeldVolume h) {
        String k = key(h.sr(), h.vdi());
        HeldVolume previous = h.isHeld() ? table.put(k, h) : table.remove(k);
        if (java.util.Objects.equals(previous, h.isHeld() ? h : null)) {
            return;
        }
        try {
            AtomicFile.write(file, Json.write(document()).getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            if (previous == null) {
                table.remove(k);
            } else {
                table.put(k, previous);
            }
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    /**
     * The lock a change of volume {@code (sr, vdi)} holds across its plugin calls: one per volume for the whole
     * process, so a plugin's service re-created while calls of the old one still run cannot race it.
     */
    public Object lockOf(String sr, String vdi) {
        return locks.computeIfAbsent(key(sr, vdi), k -> new Object());
    }

    public Path file() {
        return file;
    }

    private static String key(String sr, String vdi) {
        return sr + "\u0000" + vdi;
    }

    private ObjectNode document() {
        ObjectNode root = Json.NODES.objectNode();
        ArrayNode volumes = root.putArray("volumes");
        for (HeldVolume h : table.values()) {
            ObjectNode v = volumes.addObject();
            v.put("sr", h.sr());
            v.put("vdi", h.vdi());
            v.put("domain", h.domain());
            h.backend().ifPresent(b -> v.set("backend", WireCodec.encode(b, Backend.class)));
            ObjectNode holders = v.putObject("holders");
            h.holders().forEach((dp, holder) -> {
                ObjectNode o = holders.putObject(dp);
                o.put("vm", holder.vm());
                o.set("state", WireCodec.encode(holder.state(), DpState.class));
            });
        }
        return root;
    }

    private static HeldVolume read(JsonNode v) {
        Map<String, HeldVolume.Holder> holders = new TreeMap<>();
        v.path("holders").fields().forEachRemaining(e -> holders.put(e.getKey(), new HeldVolume.Holder(
                text(e.getValue(), "vm"), WireCodec.decode(e.getValue().get("state"), DpState.class))));
        JsonNode backend = v.get("backend");
        return new HeldVolume(text(v, "sr"), text(v, "vdi"), text(v, "domain"),
                backend == null || backend.isNull() ? Optional.empty()
                        : Optional.of(WireCodec.decode(backend, Backend.class)), holders);
    }

    private static String text(JsonNode o, String field) {
        JsonNode n = o.get(field);
        if (n == null || !n.isTextual()) {
            throw new IllegalArgumentException("missing " + field + " in " + o);
        }
        return n.textValue();
    }
}
