package org.xenstorage.idl.wire;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.core.json.JsonWriteFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;

/**
 * The project's one JSON configuration, matching what Yojson (used by rpclib) reads and writes:
 * compact output, {@code NaN}/{@code Infinity} as bare tokens, integers kept exact, trailing
 * garbage after the value rejected.
 */
public final class Json {
    /** Shared, thread-safe mapper. Do not reconfigure it. */
    public static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .disable(JsonWriteFeature.WRITE_NAN_AS_STRINGS)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    public static final JsonNodeFactory NODES = JsonTree.NODES;

    private Json() {
    }

    /**
     * Parses exactly one JSON value. Unlike Jackson's default tree reader, the <em>first</em> of duplicate
     * object keys wins, as in rpclib's assoc-list lookups ({@link JsonTree}).
     */
    public static JsonNode parse(String text) throws JsonProcessingException {
        return JsonTree.parse(text);
    }

    /** Compact JSON text of a tree. */
    public static String write(JsonNode node) {
        try {
            return MAPPER.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a JSON tree always serialises", e);
        }
    }
}
