package org.xenstorage.smctl;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
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
import java.io.StringWriter;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * JSON for smctl's hot path on a bare jackson-core {@link JsonFactory}: the same trees as the IDL's
 * {@code Json.parse} (first of duplicate keys wins, {@code NaN}/{@code Infinity} read, trailing content
 * rejected) and the few small texts a run writes, without building {@code Json}'s {@code ObjectMapper}
 * (its type factory, date formats and locale data cost a CLI ~0.2 s of a 0.8 s run).
 */
final class TreeJson {
    private static final JsonFactory FACTORY = JsonFactory.builder()
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .build();
    /** As {@code Json.NODES}: big decimals kept exact. */
    static final JsonNodeFactory NODES = JsonNodeFactory.withExactBigDecimals(true);
    private static final int MAX_DEPTH = 512;
    private static final AtomicLong NEXT_ID = new AtomicLong(1);

    private TreeJson() {
    }

    /** Parses exactly one JSON value, as {@code Json.parse} does. */
    static JsonNode parse(String text) throws JsonProcessingException {
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

    /**
     * A JSON-RPC request with named text parameters, in the shape of the IDL's {@code JsonRpc.request}:
     * {@code {"method":M,"params":[{...}],"id":N}}.
     */
    static String request(String method, Map<String, String> params) {
        StringWriter out = new StringWriter();
        try (JsonGenerator g = FACTORY.createGenerator(out)) {
            g.writeStartObject();
            g.writeStringField("method", method);
            g.writeArrayFieldStart("params");
            g.writeStartObject();
            for (Map.Entry<String, String> e : params.entrySet()) {
                g.writeStringField(e.getKey(), e.getValue());
            }
            g.writeEndObject();
            g.writeEndArray();
            g.writeNumberField("id", NEXT_ID.getAndIncrement());
            g.writeEndObject();
        } catch (IOException e) {
            throw new IllegalStateException("writing to a string cannot fail", e);
        }
        return out.toString();
    }

    /**
     * The message-switch's transfer request body: {@code {"from":F,"timeout":T,"queues":[...]}} ({@code from}
     * left out on the first poll), as the protocol module's {@code SwitchRequest.Transfer} writes it.
     */
    static String transfer(String from, String timeout, List<String> queues) {
        StringWriter out = new StringWriter();
        try (JsonGenerator g = FACTORY.createGenerator(out)) {
            g.writeStartObject();
            if (from != null) {
                g.writeStringField("from", from);
            }
            g.writeFieldName("timeout");
            g.writeRawValue(timeout);
            g.writeArrayFieldStart("queues");
            for (String q : queues) {
                g.writeString(q);
            }
            g.writeEndArray();
            g.writeEndObject();
        } catch (IOException e) {
            throw new IllegalStateException("writing to a string cannot fail", e);
        }
        return out.toString();
    }
}
