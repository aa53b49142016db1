package org.xenstorage.smapiv1.datapath;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.DpState;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.idl.wire.WireCodec;
import org.xenstorage.idl.automaton.Op;
import org.xenstorage.statefile.AtomicFile;

/**
 * The state file (spec 2.6): upstream's {@code storage.db} format, one compact JSON object holding the
 * whole state, so files can be compared with or imported from a real xapi. Two additions, both left
 * out when empty so an idle state is byte-for-byte upstream's shape: a top-level {@code intents} list
 * (write-ahead records) and a per-VDI {@code unconfirmed} flag.
 */
public final class StateFile {
    private StateFile() {
    }

    /** Writes the snapshot atomically (temp file, fsync, rename, directory fsync; mode 0600). */
    public static void write(Path file, HostSnapshot snapshot) throws IOException {
        AtomicFile.write(file, encode(snapshot).getBytes(StandardCharsets.UTF_8));
    }

    /** Reads the file; empty when it does not exist. Throws {@link IOException} when it cannot be decoded. */
    public static Optional<HostSnapshot> read(Path file) throws IOException {
        AtomicFile.removeStaleTemporaries(file.toAbsolutePath().getParent());
        Optional<byte[]> bytes = AtomicFile.read(file);
        if (bytes.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(decode(new String(bytes.get(), StandardCharsets.UTF_8)));
    }

    public static String encode(HostSnapshot s) {
        ObjectNode root = Json.NODES.objectNode();
        ArrayNode errors = root.putArray("errors");
        for (ErrorEntry e : s.errors()) {
            ObjectNode o = errors.addObject();
            o.put("error", e.error());
            o.put("vdi", e.vdi());
            o.put("sr", e.sr());
            o.put("time", e.time());
            o.put("dp", e.dp());
        }
        ObjectNode srs = root.putObject("host").putObject("srs");
        s.srs().forEach((sr, vdis) -> {
            ObjectNode vdisNode = srs.putObject(sr).putObject("vdis");
            vdis.forEach((vdi, rec) -> {
                ObjectNode r = vdisNode.putObject(vdi);
                ObjectNode dpv = r.putObject("dpv");
                ArrayNode leaked = r.putArray("leaked");
                ObjectNode dps = r.putObject("dps");
                for (Holder h : rec.holders()) {
                    dpv.put(h.dp(), h.vm());
                    dps.set(h.dp(), WireCodec.encode(h.state(), DpState.class));
                }
                rec.leaked().forEach(leaked::add);
                rec.attachInfo().ifPresent(b -> r.set("attach_info", WireCodec.encode(b, Backend.class)));
                if (rec.unconfirmed()) {
                    r.put("unconfirmed", true);
                }
            });
        });
        if (!s.intents().isEmpty()) {
            ArrayNode intents = root.putArray("intents");
            for (Intent i : s.intents()) {
                ObjectNode o = intents.addObject();
                o.put("id", i.id());
                o.put("sr", i.sr());
                o.put("vdi", i.vdi());
                o.put("dp", i.dp());
                o.put("vm", i.vm());
                o.put("op", i.op().text());
            }
        }
        return Json.write(root);
    }

    public static HostSnapshot decode(String text) throws IOException {
        JsonNode root;
        try {
            root = Json.parse(text);
        } catch (JsonProcessingException e) {
            throw new IOException("state file is not JSON: " + e.getOriginalMessage(), e);
        }
        try {
            List<ErrorEntry> errors = new ArrayList<>();
            for (JsonNode e : array(root, "errors")) {
                errors.add(new ErrorEntry(text(e, "dp"), number(e, "time"), text(e, "sr"), text(e, "vdi"),
                        text(e, "error")));
            }
            Map<String, Map<String, VdiRecord>> srs = new LinkedHashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = object(object(root, "host"), "srs").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> sr = it.next();
                Map<String, VdiRecord> vdis = new LinkedHashMap<>();
                for (Iterator<Map.Entry<String, JsonNode>> v = object(sr.getValue(), "vdis").fields(); v.hasNext(); ) {
                    Map.Entry<String, JsonNode> vdi = v.next();
                    vdis.put(vdi.getKey(), decodeVdi(vdi.getValue()));
                }
                srs.put(sr.getKey(), vdis);
            }
            List<Intent> intents = new ArrayList<>();
            JsonNode in = root.path("intents");
            if (!in.isMissingNode()) {
                for (JsonNode i : array(root, "intents")) {
                    intents.add(new Intent(i.path("id").asLong(), text(i, "sr"), text(i, "vdi"), text(i, "dp"),
                            text(i, "vm"), parseOp(text(i, "op"))));
                }
            }
            return new HostSnapshot(srs, errors, intents);
        } catch (RuntimeException e) {
            throw new IOException("state file has the wrong shape: " + e.getMessage(), e);
        }
    }

    private static VdiRecord decodeVdi(JsonNode node) {
        // upstream: a missing dpv means {}; any other missing field is a load error
        JsonNode dpvNode = node.path("dpv");
        Map<String, String> dpv = new LinkedHashMap<>();
        if (!dpvNode.isMissingNode()) {
            object(node, "dpv").fields().forEachRemaining(e -> dpv.put(e.getKey(), e.getValue().asText()));
        }
        List<Holder> holders = new ArrayList<>();
        object(node, "dps").fields().forEachRemaining(e -> {
            DpState state = WireCodec.decode(e.getValue(), DpState.class);
            if (!(state instanceof DpState.Detached)) {
                holders.add(new Holder(e.getKey(), state, dpv.getOrDefault(e.getKey(), "")));
            }
        });
        List<String> leaked = new ArrayList<>();
        array(node, "leaked").forEach(l -> leaked.add(l.asText()));
        JsonNode ai = node.path("attach_info");
        Optional<Backend> attachInfo = ai.isMissingNode() || ai.isNull()
                ? Optional.empty() : Optional.of(WireCodec.decode(ai, Backend.class));
        return new VdiRecord(attachInfo, holders, leaked, node.path("unconfirmed").asBoolean(false));
    }

    /** The inverse of {@link Op#text()}. */
    static Op parseOp(String text) {
        for (Op op : Op.EVERY) {
            if (op.text().equals(text)) {
                return op;
            }
        }
        throw new IllegalArgumentException("unknown op " + text);
    }

    private static JsonNode object(JsonNode parent, String key) {
        JsonNode n = parent.get(key);
        if (n == null || !n.isObject()) {
            throw new IllegalArgumentException("missing object " + key);
        }
        return n;
    }

    private static JsonNode array(JsonNode parent, String key) {
        JsonNode n = parent.get(key);
        if (n == null || !n.isArray()) {
            throw new IllegalArgumentException("missing list " + key);
        }
        return n;
    }

    private static String text(JsonNode parent, String key) {
        JsonNode n = parent.get(key);
        if (n == null || !n.isTextual()) {
            throw new IllegalArgumentException("missing string " + key);
        }
        return n.asText();
    }

    private static double number(JsonNode parent, String key) {
        JsonNode n = parent.get(key);
        if (n == null || !n.isNumber()) {
            throw new IllegalArgumentException("missing number " + key);
        }
        return n.asDouble();
    }
}
