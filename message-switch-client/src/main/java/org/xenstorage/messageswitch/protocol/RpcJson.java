package org.xenstorage.messageswitch.protocol;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.util.RawValue;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * The rpclib JSON shapes of the switch's types, written compactly as OCaml's Jsonrpc (Yojson)
 * does: tuples and variants are arrays ({@code ["Tag", arg]}), an option is {@code []}/{@code [x]}
 * at top level and an omitted field inside a record, an int64 is a bare integer, a float always has
 * a fraction or exponent, an association list keyed by strings is an object.
 * Decoding is lenient where rpclib is (an integer where a float is expected).
 */
public final class RpcJson {
    static final ObjectMapper MAPPER = new ObjectMapper();
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    private RpcJson() {
    }

    /** Compact JSON text of a tree. */
    public static String write(JsonNode node) {
        try {
            return MAPPER.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot happen for an in-memory tree", e);
        }
    }

    /** Parses JSON text, or throws {@link ProtocolException}. */
    public static JsonNode parse(String text) {
        try {
            JsonNode n = MAPPER.readTree(text);
            if (n == null || n.isMissingNode()) {
                throw new ProtocolException("empty JSON text");
            }
            return n;
        } catch (JsonProcessingException e) {
            throw new ProtocolException("malformed JSON: " + e.getOriginalMessage());
        }
    }

    /** A float as Yojson prints it: shortest round-trip digits, ".0" added to integral values. */
    public static String formatFloat(double d) {
        if (Double.isNaN(d) || Double.isInfinite(d)) {
            throw new IllegalArgumentException("non-finite float has no JSON form: " + d);
        }
        if (d == Math.rint(d) && Math.abs(d) < 1e16) {
            return ((long) d) + ".0";
        }
        String s = Double.toString(d);
        if (s.contains("E")) {
            // Java writes 1.0E-5, %g writes 1e-05: both are valid JSON; keep the value exact.
            return new BigDecimal(s).stripTrailingZeros().toString().replace("E+", "e+").replace("E", "e");
        }
        return s;
    }

    static RawValue rawFloat(double d) {
        return new RawValue(formatFloat(d));
    }

    // ---- message id, kind, message -------------------------------------------------------------

    public static ArrayNode messageId(MessageId id) {
        return F.arrayNode().add(id.queue()).add(id.id());
    }

    public static MessageId messageId(JsonNode n) {
        if (!n.isArray() || n.size() != 2 || !n.get(0).isTextual() || !n.get(1).canConvertToLong()
                || !n.get(1).isIntegralNumber()) {
            throw new ProtocolException("expected a message id [queue, int64], got " + n);
        }
        return new MessageId(n.get(0).asText(), n.get(1).asLong());
    }

    /** The top-level rpclib option of a message id: {@code []} or {@code [[q, n]]}. */
    public static ArrayNode messageIdOption(Optional<MessageId> id) {
        ArrayNode a = F.arrayNode();
        id.ifPresent(x -> a.add(messageId(x)));
        return a;
    }

    public static Optional<MessageId> messageIdOption(JsonNode n) {
        if (n.isNull()) {
            return Optional.empty();
        }
        if (!n.isArray() || n.size() > 1) {
            throw new ProtocolException("expected a message id option, got " + n);
        }
        return n.size() == 0 ? Optional.empty() : Optional.of(messageId(n.get(0)));
    }

    public static ArrayNode kind(MessageKind k) {
        if (k instanceof MessageKind.Request r) {
            return F.arrayNode().add("Request").add(r.replyTo());
        }
        return F.arrayNode().add("Response").add(messageId(((MessageKind.Response) k).requestId()));
    }

    public static MessageKind kind(JsonNode n) {
        if (!n.isArray() || n.size() != 2 || !n.get(0).isTextual()) {
            throw new ProtocolException("expected a message kind variant, got " + n);
        }
        return switch (n.get(0).asText()) {
            case "Request" -> new MessageKind.Request(text(n.get(1), "Request"));
            case "Response" -> new MessageKind.Response(messageId(n.get(1)));
            default -> throw new ProtocolException("unknown message kind " + n.get(0));
        };
    }

    public static ObjectNode message(Message m) {
        ObjectNode o = F.objectNode();
        o.put("payload", m.payload());
        o.set("kind", kind(m.kind()));
        return o;
    }

    public static Message message(JsonNode n) {
        requireObject(n, "message");
        return new Message(text(field(n, "payload"), "payload"), kind(field(n, "kind")));
    }

    // ---- origin, entry, events, diagnostics ----------------------------------------------------

    public static ArrayNode origin(Origin o) {
        if (o instanceof Origin.Anonymous a) {
            return F.arrayNode().add("Anonymous").add(a.connection());
        }
        return F.arrayNode().add("Name").add(((Origin.Name) o).session());
    }

    public static Origin origin(JsonNode n) {
        if (!n.isArray() || n.size() != 2) {
            throw new ProtocolException("expected an origin variant, got " + n);
        }
        String v = text(n.get(1), "origin");
        return switch (n.get(0).asText()) {
            case "Anonymous" -> new Origin.Anonymous(v);
            case "Name" -> new Origin.Name(v);
            default -> throw new ProtocolException("unknown origin " + n.get(0));
        };
    }

    public static ObjectNode entry(Entry e) {
        ObjectNode o = F.objectNode();
        o.set("origin", origin(e.origin()));
        o.put("time", e.time());
        o.set("message", message(e.message()));
        return o;
    }

    public static Entry entry(JsonNode n) {
        requireObject(n, "entry");
        return new Entry(origin(field(n, "origin")), int64(field(n, "time")), message(field(n, "message")));
    }

    public static ObjectNode event(TraceEvent e) {
        ObjectNode o = F.objectNode();
        o.putRawValue("time", rawFloat(e.time()));
        e.input().ifPresent(i -> o.put("input", i));
        o.put("queue", e.queue());
        e.output().ifPresent(x -> o.put("output", x));
        if (e.message() instanceof TraceEvent.Sent s) {
            // a constructor of several arguments: rpclib appends them after the tag, it does not nest a tuple
            o.set("message", F.arrayNode().add("Message").add(messageId(s.id())).add(message(s.message())));
        } else {
            o.set("message", F.arrayNode().add("Ack").add(messageId(((TraceEvent.Acked) e.message()).id())));
        }
        e.processingTime().ifPresent(p -> o.put("processing_time", p));
        return o;
    }

    /**
     * Reads one trace event. {@code Message of message_id * Message.t} arrives as upstream writes it,
     * {@code ["Message", id, message]}; the nested {@code ["Message", [id, message]]} that this project's
     * switch wrote before issue 14.5 is read too. Tags match case-insensitively, as rpclib's do.
     */
    public static TraceEvent event(JsonNode n) {
        requireObject(n, "event");
        JsonNode m = field(n, "message");
        if (!m.isArray() || m.size() < 2 || !m.get(0).isTextual()) {
            throw new ProtocolException("expected an event message variant, got " + m);
        }
        TraceEvent.Happening h = switch (m.get(0).asText().toLowerCase(java.util.Locale.ROOT)) {
            case "message" -> {
                if (m.size() == 3) {
                    yield new TraceEvent.Sent(messageId(m.get(1)), message(m.get(2)));
                }
                JsonNode args = m.get(1);
                if (m.size() != 2 || !args.isArray() || args.size() != 2) {
                    throw new ProtocolException("expected [\"Message\", id, message], got " + m);
                }
                yield new TraceEvent.Sent(messageId(args.get(0)), message(args.get(1)));
            }
            case "ack" -> {
                if (m.size() != 2) {
                    throw new ProtocolException("expected [\"Ack\", id], got " + m);
                }
                yield new TraceEvent.Acked(messageId(m.get(1)));
            }
            default -> throw new ProtocolException("unknown event " + m.get(0));
        };
        JsonNode pt = n.get("processing_time");
        return new TraceEvent(number(field(n, "time")), optText(n.get("input")), text(field(n, "queue"), "queue"),
                optText(n.get("output")), h,
                pt == null || pt.isNull() ? OptionalLong.empty() : OptionalLong.of(int64(pt)));
    }

    public static ObjectNode diagnostics(Diagnostics d) {
        ObjectNode o = F.objectNode();
        o.put("start_time", d.startTime());
        o.put("current_time", d.currentTime());
        o.set("permanent_queues", queues(d.permanentQueues()));
        o.set("transient_queues", queues(d.transientQueues()));
        return o;
    }

    private static ObjectNode queues(Map<String, Diagnostics.QueueState> qs) {
        ObjectNode o = F.objectNode();
        qs.forEach((name, q) -> {
            ObjectNode qn = o.putObject(name);
            q.nextTransferExpected().ifPresent(t -> qn.put("next_transfer_expected", t));
            ArrayNode contents = qn.putArray("queue_contents");
            for (Diagnostics.Queued e : q.contents()) {
                contents.add(F.arrayNode().add(messageId(e.id())).add(entry(e.entry())));
            }
        });
        return o;
    }

    public static Diagnostics diagnostics(JsonNode n) {
        requireObject(n, "diagnostics");
        return new Diagnostics(int64(field(n, "start_time")), int64(field(n, "current_time")),
                queues(field(n, "permanent_queues")), queues(field(n, "transient_queues")));
    }

    private static Map<String, Diagnostics.QueueState> queues(JsonNode n) {
        requireObject(n, "queue table");
        Map<String, Diagnostics.QueueState> out = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode q = e.getValue();
            requireObject(q, "queue");
            JsonNode nte = q.get("next_transfer_expected");
            List<Diagnostics.Queued> contents = new ArrayList<>();
            for (JsonNode pair : array(field(q, "queue_contents"), "queue_contents")) {
                if (!pair.isArray() || pair.size() != 2) {
                    throw new ProtocolException("expected [id, entry], got " + pair);
                }
                contents.add(new Diagnostics.Queued(messageId(pair.get(0)), entry(pair.get(1))));
            }
            out.put(e.getKey(), new Diagnostics.QueueState(
                    nte == null || nte.isNull() ? OptionalLong.empty() : OptionalLong.of(int64(nte)), contents));
        }
        return out;
    }

    // ---- small readers -------------------------------------------------------------------------

    static JsonNode field(JsonNode o, String name) {
        JsonNode v = o.get(name);
        if (v == null) {
            throw new ProtocolException("missing field '" + name + "'");
        }
        return v;
    }

    static void requireObject(JsonNode n, String what) {
        if (!n.isObject()) {
            throw new ProtocolException("expected " + what + " as a JSON object, got " + n.getNodeType());
        }
    }

    static String text(JsonNode n, String what) {
        if (!n.isTextual()) {
            throw new ProtocolException("expected " + what + " as a string, got " + n);
        }
        return n.asText();
    }

    static Optional<String> optText(JsonNode n) {
        return n == null || n.isNull() ? Optional.empty() : Optional.of(text(n, "optional string"));
    }

    static long int64(JsonNode n) {
        if (n.isIntegralNumber() && n.canConvertToLong()) {
            return n.asLong();
        }
        if (n.isTextual()) {
            try {
                return Long.parseLong(n.asText());
            } catch (NumberFormatException e) {
                // fall through to the error below
            }
        }
        throw new ProtocolException("expected an int64, got " + n);
    }

    static double number(JsonNode n) {
        if (!n.isNumber()) {
            throw new ProtocolException("expected a number, got " + n);
        }
        return n.asDouble();
    }

    static JsonNode array(JsonNode n, String what) {
        if (!n.isArray()) {
            throw new ProtocolException("expected " + what + " as a JSON array, got " + n.getNodeType());
        }
        return n;
    }
}
