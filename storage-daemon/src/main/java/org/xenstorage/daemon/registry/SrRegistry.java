package org.xenstorage.daemon.registry;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.statefile.AtomicFile;

/**
 * The SR → backend registry of the mux. Upstream keeps it in xapi's memory and refills it on every
 * PBD.plug; a separate daemon must survive its own restarts, so every change is written with
 * {@link AtomicFile} before the change is visible (and before the caller is answered).
 *
 * <p>File format ({@code <state-dir>/mux/registry.json}, mode 0600):
 * {@code {"version":1,"srs":{"<sr>":{"sr_type":..,"queue":..,"backend_domain":..,"features":[..],"smapi_version":..}}}}
 */
public final class SrRegistry {
    private static final Logger LOG = LoggerFactory.getLogger(SrRegistry.class);

    /** What an SR type may look like: it becomes part of a queue name and, in backends, of a path. */
    private static final Pattern TYPE = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]*");

    private final Path file;
    private final TreeMap<String, SrBinding> bindings = new TreeMap<>();

    private SrRegistry(Path file) {
        this.file = file;
    }

    /** Loads the registry; a missing file is an empty registry, a corrupt one is kept aside and replaced. */
    public static SrRegistry load(Path file) throws IOException {
        SrRegistry r = new SrRegistry(file);
        AtomicFile.removeStaleTemporaries(file.toAbsolutePath().getParent());
        Optional<byte[]> bytes = AtomicFile.read(file);
        if (bytes.isEmpty()) {
            LOG.info("no SR registry at {}: starting with no SR registered", file);
            return r;
        }
        try {
            r.bindings.putAll(decode(new String(bytes.get(), StandardCharsets.UTF_8)));
            LOG.info("SR registry loaded from {}: {}", file, r.bindings.keySet());
        } catch (IllegalArgumentException | JsonProcessingException e) {
            Path aside = file.resolveSibling(file.getFileName() + ".corrupt-" + System.currentTimeMillis());
            Files.move(file, aside);
            LOG.error("SR registry {} is unreadable ({}); moved it to {} and starting empty: re-register the SRs",
                    file, e.getMessage(), aside);
        }
        return r;
    }

    /** Whether {@code type} is a syntactically valid SR type (no path separators, no {@code ..}). */
    public static boolean validType(String type) {
        return type != null && TYPE.matcher(type).matches() && !type.contains("..");
    }

    public synchronized Optional<SrBinding> lookup(String sr) {
        return Optional.ofNullable(bindings.get(sr));
    }

    /** Every binding, by SR id. */
    public synchronized Map<String, SrBinding> all() {
        return Map.copyOf(bindings);
    }

    /** SR ids in registration-independent (sorted) order. */
    public synchronized List<String> srs() {
        return new ArrayList<>(bindings.keySet());
    }

    /** Adds or replaces the binding; persisted before it is visible. */
    public synchronized void register(SrBinding binding) {
        if (binding.equals(bindings.get(binding.sr()))) {
            return;
        }
        TreeMap<String, SrBinding> next = new TreeMap<>(bindings);
        next.put(binding.sr(), binding);
        persist(next);
        bindings.put(binding.sr(), binding);
        LOG.info("registered SR {} -> {} (registered SRs: {})", binding.sr(), binding.queue(), bindings.keySet());
    }

    /** Removes the binding if present; persisted before it is visible. */
    public synchronized void unregister(String sr) {
        if (!bindings.containsKey(sr)) {
            return;
        }
        TreeMap<String, SrBinding> next = new TreeMap<>(bindings);
        next.remove(sr);
        persist(next);
        bindings.remove(sr);
        LOG.info("unregistered SR {} (registered SRs: {})", sr, bindings.keySet());
    }

    private void persist(Map<String, SrBinding> content) {
        try {
            AtomicFile.write(file, encode(content).getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the SR registry " + file, e);
        }
    }

    static String encode(Map<String, SrBinding> content) {
        ObjectNode root = Json.NODES.objectNode();
        root.put("version", 1);
        ObjectNode srs = root.putObject("srs");
        content.forEach((sr, b) -> {
            ObjectNode o = srs.putObject(sr);
            o.put("sr_type", b.srType());
            o.put("queue", b.queue());
            o.put("backend_domain", b.backendDomain());
            ArrayNode f = o.putArray("features");
            b.features().forEach(f::add);
            o.put("smapi_version", b.smapiVersion());
        });
        return Json.write(root);
    }

    static Map<String, SrBinding> decode(String text) throws JsonProcessingException {
        JsonNode root = Json.parse(text);
        JsonNode srs = root.path("srs");
        if (!srs.isObject()) {
            throw new IllegalArgumentException("no \"srs\" object");
        }
        Map<String, SrBinding> out = new TreeMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = srs.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode o = e.getValue();
            String type = text(o, "sr_type");
            if (!validType(type)) {
                throw new IllegalArgumentException("SR " + e.getKey() + " has an invalid sr_type");
            }
            List<String> features = new ArrayList<>();
            o.path("features").forEach(f -> features.add(f.asText()));
            out.put(e.getKey(), new SrBinding(e.getKey(), type, text(o, "queue"),
                    o.path("backend_domain").asText(""), features, o.path("smapi_version").asText("")));
        }
        return out;
    }

    private static String text(JsonNode o, String key) {
        JsonNode v = o.get(key);
        if (v == null || !v.isTextual()) {
            throw new IllegalArgumentException("missing string \"" + key + "\"");
        }
        return v.textValue();
    }
}
