package org.xenstorage.smctl;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import java.util.ArrayList;
import java.util.List;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.idl.wire.WireCodec;

/**
 * One line for a SMAPIv2 error, from its wire form: {@code ["Sr_not_attached","sr1"]} reads
 * {@code Sr_not_attached: sr1}; several arguments are separated by spaces, text bare and anything else
 * as compact JSON ({@code Backend_error: SR_BACKEND_FAILURE_44 ["","no space",""]}). The backtrace a SMAPIv3
 * script puts first in {@code Backend_error_with_backtrace} is left out.
 */
final class ErrorText {
    private ErrorText() {
    }

    static String of(StorageError error) {
        return of(WireCodec.encode(error, StorageError.class));
    }

    static String of(JsonNode wire) {
        if (wire == null || wire.isNull()) {
            return "unknown error (null)";
        }
        if (wire.isTextual()) {
            return wire.textValue();
        }
        if (wire.isArray() && wire.size() >= 1 && wire.get(0).isTextual()) {
            String tag = wire.get(0).textValue();
            if (wire.size() == 1) {
                return tag;
            }
            JsonNode arg = wire.get(1);
            if (tag.equals("Backend_error_with_backtrace") && arg.isArray() && arg.size() == 2
                    && arg.get(1).isArray() && arg.get(1).size() > 0) {
                // the first parameter is the script's backtrace as JSON: for logs (and --json), not for this line
                ArrayNode params = arg.get(1).deepCopy();
                params.remove(0);
                arg = Json.NODES.arrayNode().add(arg.get(0)).add(params);
            }
            List<String> parts = new ArrayList<>();
            // several constructor arguments arrive as one nested array; a single list argument too, which
            // is why only arrays whose first element is text are spread
            if (arg.isArray() && arg.size() > 1 && arg.get(0).isTextual()) {
                arg.forEach(a -> parts.add(piece(a)));
            } else {
                parts.add(piece(arg));
            }
            return tag + ": " + String.join(" ", parts);
        }
        return Json.write(wire);
    }

    private static String piece(JsonNode n) {
        return n.isTextual() ? n.textValue() : Json.write(n);
    }
}
