package org.xenstorage.smctl;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.io.IOException;
import java.io.StringWriter;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.xenstorage.idl.wire.JsonTree;

/**
 * JSON for smctl's hot path on a bare jackson-core {@link JsonFactory}: the IDL's tree reader ({@link JsonTree},
 * the same trees as {@code Json.parse}) and the few small texts a run writes, without building {@code Json}'s
 * {@code ObjectMapper} (its type factory, date formats and locale data cost a CLI ~0.2 s of a 0.8 s run).
 */
final class TreeJson {
    private static final JsonFactory FACTORY = JsonTree.factory();
    /** As {@code Json.NODES}: big decimals kept exact. */
    static final JsonNodeFactory NODES = JsonTree.NODES;
    private static final AtomicLong NEXT_ID = new AtomicLong(1);

    private TreeJson() {
    }

    /** Parses exactly one JSON value, as {@code Json.parse} does ({@link JsonTree}). */
    static JsonNode parse(String text) throws JsonProcessingException {
        return JsonTree.parse(text);
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
