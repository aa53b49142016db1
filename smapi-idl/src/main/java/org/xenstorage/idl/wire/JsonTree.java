package org.xenstorage.idl.wire;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;

/**
 * The project's JSON tree reader, on a bare jackson-core {@link JsonFactory}: what Yojson reads ({@code NaN} and
 * {@code Infinity} as bare tokens, integers kept exact), exactly one value (trailing content rejected), and the
 * <em>first</em> of duplicate object keys wins, as in rpclib's assoc-list lookups. {@link Json#parse} reads with
 * it; a short-lived client (smctl) uses it without building {@link Json}'s {@code ObjectMapper}, whose set-up
 * costs a CLI a noticeable part of its start.
 */
public final class JsonTree {
    /** Node factory: big decimals kept exact. */
    public static final JsonNodeFactory NODES = JsonNodeFactory.withExactBigDecimals(true);
    private static final JsonFactory FACTORY = JsonFactory.builder()
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .build();
    private static final int MAX_DEPTH = 512;

    private JsonTree() {
    }

    /** The bare factory this reader parses with (also fit to write the small texts a client sends). */
    public static JsonFactory factory() {
        return FACTORY;
    }

    /** Parses exactly one JSON value (see the class comment). */
    public static JsonNode parse(String text) throws JsonProcessingException {
        try (JsonParser p = FACTORY.createParser(text)) {
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
}
