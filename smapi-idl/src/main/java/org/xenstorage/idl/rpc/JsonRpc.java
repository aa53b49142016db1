package org.xenstorage.idl.rpc;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.idl.wire.WireCodec;

/**
 * The JSON-RPC envelopes as rpclib's {@code Jsonrpc} writes and reads them (version 1 unless the request
 * says {@code "jsonrpc":"2.0"}).
 */
public final class JsonRpc {
    private static final AtomicLong NEXT_ID = new AtomicLong(1);

    private JsonRpc() {
    }

    /**
     * A decoded request.
     *
     * @param method the method name
     * @param params the {@code params} array (a v2 object is wrapped as {@code [obj]}, absent as {@code []})
     * @param id     the request id (an integer or string node)
     */
    public record Call(String method, ArrayNode params, JsonNode id) {
        /** The named-parameter object, if the first element of {@code params} is one. */
        public Optional<ObjectNode> namedParams() {
            return params.size() > 0 && params.get(0).isObject() ? Optional.of((ObjectNode) params.get(0))
                    : Optional.empty();
        }
    }

    /** A request that cannot be decoded at all; the message uses rpclib's wording. */
    public static final class MalformedRequest extends Exception {
        private final transient JsonNode id;

        MalformedRequest(String message, JsonNode id) {
            super(message, null, false, false);
            this.id = id;
        }

        /** The request id if it could be read, else {@code 0}. */
        public JsonNode id() {
            return id;
        }
    }

    /** Parses a request body. */
    public static Call parseCall(String text) throws MalformedRequest {
        JsonNode root;
        try {
            root = Json.parse(text);
        } catch (JsonProcessingException e) {
            throw new MalformedRequest("Jsonrpc.Malformed_method_request: not JSON: " + e.getOriginalMessage(),
                    IntNode.valueOf(0));
        }
        if (!root.isObject()) {
            throw new MalformedRequest("Jsonrpc.Malformed_method_request: the body is not a JSON object",
                    IntNode.valueOf(0));
        }
        JsonNode idNode = root.get("id");
        JsonNode replyId = idNode != null && (idNode.isIntegralNumber() || idNode.isTextual()) ? idNode
                : IntNode.valueOf(0);
        JsonNode method = root.get("method");
        if (method == null || !method.isTextual()) {
            throw new MalformedRequest("Jsonrpc.Malformed_method_request: missing or non-string field 'method'",
                    replyId);
        }
        if (idNode == null || !(idNode.isIntegralNumber() || idNode.isTextual())) {
            throw new MalformedRequest("Jsonrpc.Malformed_method_request: Invalid field 'id' in request body",
                    replyId);
        }
        JsonNode version = root.get("jsonrpc");
        boolean v2 = version != null && version.isTextual() && version.textValue().equals("2.0");
        JsonNode params = root.get("params");
        ArrayNode array;
        if (params != null && params.isArray()) {
            array = (ArrayNode) params;
        } else if (v2 && (params == null || params.isNull())) {
            array = Json.NODES.arrayNode();
        } else if (v2 && params.isObject()) {
            array = Json.NODES.arrayNode().add(params);
        } else {
            throw new MalformedRequest("Jsonrpc.Malformed_method_request: 'params' must be an array", replyId);
        }
        return new Call(method.textValue(), array, replyId);
    }

    /** Writes a request as the OCaml client does: {@code {"method":..,"params":[{..}],"id":n}}. */
    public static String request(String method, ObjectNode namedParams) {
        ObjectNode o = Json.NODES.objectNode();
        o.put("method", method);
        o.set("params", Json.NODES.arrayNode().add(namedParams));
        o.put("id", NEXT_ID.getAndIncrement());
        return Json.write(o);
    }

    /** {@code {"result":<value>,"error":null,"id":<id>}}. */
    public static String success(JsonNode result, JsonNode id) {
        ObjectNode o = Json.NODES.objectNode();
        o.set("result", result == null ? NullNode.getInstance() : result);
        o.set("error", NullNode.getInstance());
        o.set("id", id);
        return Json.write(o);
    }

    /** {@code {"result":null,"error":<error>,"id":<id>}}. */
    public static String failure(StorageError error, JsonNode id) {
        return failure(WireCodec.encode(error, StorageError.class), id);
    }

    static String failure(JsonNode error, JsonNode id) {
        ObjectNode o = Json.NODES.objectNode();
        o.set("result", NullNode.getInstance());
        o.set("error", error);
        o.set("id", id);
        return Json.write(o);
    }

    /**
     * A decoded response: exactly one of success (with {@code result}) or failure (with {@code error}).
     */
    public record Response(JsonNode result, Optional<JsonNode> error) {
    }

    /**
     * Parses a response body as rpclib's client does: {@code id}, {@code result} and {@code error} must be
     * present (v1); a null error means success.
     *
     * @throws IllegalArgumentException with a clear message when the body is not such a response
     */
    public static Response parseResponse(String text) {
        JsonNode root;
        try {
            root = Json.parse(text);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("malformed JSON-RPC response (not JSON: " + e.getOriginalMessage() + ")");
        }
        return parseResponse(root);
    }

    /**
     * As {@link #parseResponse(String)}, for a body already parsed (smctl's fast path parses without
     * {@link Json}'s {@code ObjectMapper}, which costs a short-lived CLI a good part of its start-up).
     */
    public static Response parseResponse(JsonNode root) {
        if (!root.isObject()) {
            throw new IllegalArgumentException("malformed JSON-RPC response (not an object)");
        }
        JsonNode version = root.get("jsonrpc");
        JsonNode result = root.get("result");
        JsonNode error = root.get("error");
        if (version != null && version.isTextual() && version.textValue().equals("2.0")) {
            if (error != null && !error.isNull()) {
                return new Response(NullNode.getInstance(), Optional.of(error));
            }
            if (result == null) {
                throw new IllegalArgumentException("malformed JSON-RPC 2.0 response (neither result nor error)");
            }
            return new Response(result, Optional.empty());
        }
        JsonNode id = root.get("id");
        if (id == null || !(id.isIntegralNumber() || id.isTextual())) {
            throw new IllegalArgumentException("malformed JSON-RPC response (missing or invalid id)");
        }
        if (result == null || error == null) {
            throw new IllegalArgumentException("malformed JSON-RPC response (result and error must both be present)");
        }
        if (error.isNull()) {
            return new Response(result, Optional.empty());
        }
        if (!result.isNull()) {
            throw new IllegalArgumentException("malformed JSON-RPC response (both result and error are set)");
        }
        return new Response(NullNode.getInstance(), Optional.of(error));
    }

    /**
     * What a log line says about a request: its method and its {@code dbg}, {@code sr} and {@code vdi} named
     * parameters, each empty when absent. The values are the caller's: sanitise them before logging.
     */
    public record Summary(String method, String dbg, String sr, String vdi) {
        /** {@code VDI.attach3 sr=<sr> vdi=<vdi>} (the parts present). */
        public String describe() {
            return method + (sr.isEmpty() ? "" : " sr=" + sr) + (vdi.isEmpty() ? "" : " vdi=" + vdi);
        }
    }

    /** The request's {@link Summary}; never fails (a request that is not JSON-RPC has empty parts). */
    public static Summary summarise(String request) {
        try {
            return summarise(Json.parse(request));
        } catch (JsonProcessingException | RuntimeException e) {
            return new Summary("", "", "", "");
        }
    }

    /** The {@link Summary} of a parsed request. */
    public static Summary summarise(JsonNode request) {
        JsonNode named = request.path("params");
        named = named.isArray() ? named.path(0) : named; // a v2 request may send the object itself
        return new Summary(text(request.path("method")), text(named.path("dbg")), text(named.path("sr")),
                text(named.path("vdi")));
    }

    private static String text(JsonNode n) {
        return n.isTextual() ? n.textValue() : "";
    }

    /**
     * What a reply says, for a log line: {@code ok}, or {@code error <the error value>} (its JSON, cut at
     * {@code maxChars}), or {@code unreadable reply}. Never fails.
     */
    public static String outcome(String reply, int maxChars) {
        try {
            Optional<JsonNode> error = parseResponse(reply).error();
            if (error.isEmpty()) {
                return "ok";
            }
            String text = error.get().toString();
            return "error " + (text.length() > maxChars ? text.substring(0, maxChars) + "..." : text);
        } catch (RuntimeException e) {
            return "unreadable reply";
        }
    }
}
