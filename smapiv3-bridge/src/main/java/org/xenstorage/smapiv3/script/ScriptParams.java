package org.xenstorage.smapiv3.script;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.xenstorage.idl.wire.Json;

/**
 * Builds a script's stdin object. Parameters are given in IDL declaration order and written in
 * reverse, as upstream's rpclib client does, so our logs line up with xapi-storage-script's.
 */
public final class ScriptParams {
    private final List<Map.Entry<String, JsonNode>> entries = new ArrayList<>();

    private ScriptParams() {
    }

    /** Starts with {@code dbg}, the first parameter of every SMAPIv3 method. */
    public static ScriptParams dbg(String dbg) {
        return new ScriptParams().put("dbg", dbg);
    }

    public ScriptParams put(String name, String value) {
        return put(name, Json.NODES.textNode(value));
    }

    public ScriptParams put(String name, long value) {
        return put(name, Json.NODES.numberNode(value));
    }

    public ScriptParams put(String name, boolean value) {
        return put(name, Json.NODES.booleanNode(value));
    }

    public ScriptParams put(String name, Map<String, String> value) {
        ObjectNode o = Json.NODES.objectNode();
        value.forEach(o::put);
        return put(name, o);
    }

    public ScriptParams put(String name, JsonNode value) {
        entries.add(Map.entry(name, value));
        return this;
    }

    /** The stdin object. */
    public ObjectNode toJson() {
        ObjectNode o = Json.NODES.objectNode();
        for (int i = entries.size() - 1; i >= 0; i--) {
            o.set(entries.get(i).getKey(), entries.get(i).getValue());
        }
        return o;
    }
}
