package org.xenstorage.idl.wire;

import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.core.json.JsonWriteFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;

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

    public static final JsonNodeFactory NODES = JsonNodeFactory.withExactBigDecimals(true);

    private Json() {
    }

    /**
     * Parses exactly one JSON value. Unlike Jackson's default tree reader, the <em>first</em> of duplicate
     * object keys wins, as in rpclib's assoc-list lookups.
     */
    public static JsonNode parse(String text) throws JsonProcessingException {
        try (JsonParser p = MAPPER.getFactory().createParser(text)) {
            JsonToken first = p.nextToken();
            if (first == null) {
                throw new JsonParseException(p, "empty document");
            }
            JsonNode node = read(p, first, 0);
            if (p.nextToken() != null) {
                throw new JsonParseException(p, "trailing content after the JSON value");
            }
            return node;
        } catch (JsonProcessingException e) {
            throw e;
        } catch (IOException e) {
            throw new JsonParseException(null, "unreadable JSON: " + e.getMessage());
        }
    }

    private static final int MAX_DEPTH = 512;

    private static JsonNode read(JsonParser p, JsonToken t, int depth) throws IOException {
        if (depth > MAX_DEPTH) {
            throw new JsonParseException(p, "JSON nested deeper than " + MAX_DEPTH);
        }
        switch (t) {
            case START_OBJECT: {
                ObjectNode o = NODES.objectNode();
                JsonToken k;
                while ((k = p.nextToken()) == JsonToken.FIELD_NAME) {
                    String name = p.currentName();
                    JsonNode v = read(p, p.nextToken(), depth + 1);
                    if (!o.has(name)) {
                        o.set(name, v);
                    }
                }
                if (k != JsonToken.END_OBJECT) {
                    throw new JsonParseException(p, "unterminated object");
                }
                return o;
            }
            case START_ARRAY: {
                ArrayNode a = NODES.arrayNode();
                JsonToken e;
                while ((e = p.nextToken()) != JsonToken.END_ARRAY) {
                    if (e == null) {
                        throw new JsonParseException(p, "unterminated array");
                    }
                    a.add(read(p, e, depth + 1));
                }
                return a;
            }
            case VALUE_STRING:
                return NODES.textNode(p.getText());
            case VALUE_NUMBER_INT:
                return p.getNumberType() == JsonParser.NumberType.BIG_INTEGER
                        ? NODES.numberNode(p.getBigIntegerValue()) : NODES.numberNode(p.getLongValue());
            case VALUE_NUMBER_FLOAT:
                return NODES.numberNode(p.getDoubleValue());
            case VALUE_TRUE:
                return NODES.booleanNode(true);
            case VALUE_FALSE:
                return NODES.booleanNode(false);
            case VALUE_NULL:
                return NullNode.getInstance();
            default:
                throw new JsonParseException(p, "unexpected token " + t);
        }
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
