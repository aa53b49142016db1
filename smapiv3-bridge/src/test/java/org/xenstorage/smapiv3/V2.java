package org.xenstorage.smapiv3;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.Map;
import org.xenstorage.idl.rpc.JsonRpc;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.testing.Soon;

/** Sends raw SMAPIv2 JSON-RPC through a bridge, as a queue server would hand it over. */
final class V2 {
    private final Smapiv3Bridge bridge;
    private final String plugin;

    V2(Smapiv3Bridge bridge, String plugin) {
        this.bridge = bridge;
        this.plugin = plugin;
    }

    /** Named params from alternating name, value pairs (String, Boolean, Long/Integer, Map, JsonNode). */
    static ObjectNode params(Object... kv) {
        ObjectNode o = Json.NODES.objectNode();
        for (int i = 0; i < kv.length; i += 2) {
            o.set((String) kv[i], Json.MAPPER.valueToTree(kv[i + 1]));
        }
        return o;
    }

    static JsonNode json(String text) {
        try {
            return Json.parse(text);
        } catch (IOException e) {
            throw new AssertionError(text, e);
        }
    }

    /** The whole reply envelope. */
    JsonNode reply(String method, Object... kv) {
        try {
            String text = Soon.get(bridge.dispatch(plugin, JsonRpc.request(method, params(kv))));
            return json(text);
        } catch (Exception e) {
            throw new AssertionError(method + " did not reply", e);
        }
    }

    /** The result of a call that must succeed. */
    JsonNode ok(String method, Object... kv) {
        JsonNode r = reply(method, kv);
        if (!r.get("error").isNull()) {
            fail(method + " failed: " + r);
        }
        return r.get("result");
    }

    /** The error of a call that must fail. */
    JsonNode error(String method, Object... kv) {
        JsonNode r = reply(method, kv);
        assertTrue(r.get("result").isNull() && !r.get("error").isNull(), method + " should fail: " + r);
        return r.get("error");
    }

    static Map<String, String> map(String... kv) {
        Map<String, String> m = new java.util.LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return m;
    }
}
