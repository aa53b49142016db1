package org.xenstorage.messageswitch.protocol;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Every answer the switch gives (upstream's {@code Protocol.Out}): {@link #toHttp()} is the
 * broker's status and body, {@link #decode} the client's reading of them for a given request.
 */
public sealed interface SwitchResponse {

    /** HTTP status and body of this answer. */
    Reply toHttp();

    /** Status code and body text of a switch answer. */
    record Reply(int status, String body) {
    }

    /** The body of 404 answers to a connection without a session. */
    String NOT_LOGGED_IN_BODY = "Please log in.";

    record LoggedIn() implements SwitchResponse {
        @Override
        public Reply toHttp() {
            return ok("");
        }
    }

    /** A queue was created (or already existed); the body is its name. */
    record Created(String name) implements SwitchResponse {
        @Override
        public Reply toHttp() {
            return ok(name);
        }
    }

    record Destroyed() implements SwitchResponse {
        @Override
        public Reply toHttp() {
            return ok("");
        }
    }

    /** The id the message got, or empty when the destination queue does not exist. */
    record Sent(Optional<MessageId> id) implements SwitchResponse {
        public Sent {
            Objects.requireNonNull(id, "id");
        }

        @Override
        public Reply toHttp() {
            return ok(RpcJson.write(RpcJson.messageIdOption(id)));
        }
    }

    /** One delivered message with its id. */
    record Delivery(MessageId id, Message message) {
    }

    /** The messages a transfer returned and the {@code from} to use next. */
    record Transferred(List<Delivery> messages, String next) implements SwitchResponse {
        public Transferred {
            messages = List.copyOf(messages);
            Objects.requireNonNull(next, "next");
        }

        @Override
        public Reply toHttp() {
            ObjectNode o = JsonNodeFactory.instance.objectNode();
            ArrayNode ms = o.putArray("messages");
            for (Delivery d : messages) {
                ms.add(JsonNodeFactory.instance.arrayNode().add(RpcJson.messageId(d.id())).add(RpcJson.message(d.message())));
            }
            o.put("next", next);
            return ok(RpcJson.write(o));
        }
    }

    /** A numbered trace event. */
    record NumberedEvent(long number, TraceEvent event) {
    }

    record Traced(List<NumberedEvent> events) implements SwitchResponse {
        public Traced {
            events = List.copyOf(events);
        }

        @Override
        public Reply toHttp() {
            ObjectNode o = JsonNodeFactory.instance.objectNode();
            ArrayNode es = o.putArray("events");
            for (NumberedEvent e : events) {
                es.add(JsonNodeFactory.instance.arrayNode().add(e.number()).add(RpcJson.event(e.event())));
            }
            return ok(RpcJson.write(o));
        }
    }

    record Acked() implements SwitchResponse {
        @Override
        public Reply toHttp() {
            return ok("");
        }
    }

    record Listed(List<String> names) implements SwitchResponse {
        public Listed {
            names = List.copyOf(names);
        }

        @Override
        public Reply toHttp() {
            ArrayNode a = JsonNodeFactory.instance.arrayNode();
            names.forEach(a::add);
            return ok(RpcJson.write(a));
        }
    }

    record Dump(Diagnostics diagnostics) implements SwitchResponse {
        @Override
        public Reply toHttp() {
            return ok(RpcJson.write(RpcJson.diagnostics(diagnostics)));
        }
    }

    record ShuttingDown() implements SwitchResponse {
        @Override
        public Reply toHttp() {
            return ok("");
        }
    }

    /** The request needs a session and the connection has none. */
    record NotLoggedIn() implements SwitchResponse {
        @Override
        public Reply toHttp() {
            return new Reply(404, NOT_LOGGED_IN_BODY);
        }
    }

    /** A web-interface resource. */
    record Resource(String content) implements SwitchResponse {
        @Override
        public Reply toHttp() {
            return ok(content);
        }
    }

    private static Reply ok(String body) {
        return new Reply(200, body);
    }

    /**
     * The client side: the answer to {@code request} from its status and body.
     *
     * @throws ProtocolException when the status or body is not what the protocol allows
     */
    public static SwitchResponse decode(SwitchRequest request, int status, String body) {
        if (status == 404 && !(request instanceof SwitchRequest.Get)) {
            if (body.equals(NOT_LOGGED_IN_BODY)) {
                return new NotLoggedIn();
            }
            throw new ProtocolException("switch does not know the request " + request.toHttp().path());
        }
        if (status != 200) {
            throw new ProtocolException("switch answered HTTP " + status + " to " + request.toHttp().path());
        }
        if (request instanceof SwitchRequest.Login) {
            return new LoggedIn();
        }
        if (request instanceof SwitchRequest.CreatePersistent || request instanceof SwitchRequest.CreateTransient) {
            return new Created(body);
        }
        if (request instanceof SwitchRequest.Destroy) {
            return new Destroyed();
        }
        if (request instanceof SwitchRequest.Ack) {
            return new Acked();
        }
        if (request instanceof SwitchRequest.Shutdown) {
            return new ShuttingDown();
        }
        if (request instanceof SwitchRequest.Get) {
            return new Resource(body);
        }
        if (request instanceof SwitchRequest.Send) {
            return new Sent(RpcJson.messageIdOption(RpcJson.parse(body)));
        }
        JsonNode n = RpcJson.parse(body);
        if (request instanceof SwitchRequest.ListQueues) {
            List<String> names = new ArrayList<>();
            for (JsonNode x : RpcJson.array(n, "queue list")) {
                names.add(RpcJson.text(x, "queue name"));
            }
            return new Listed(names);
        }
        if (request instanceof SwitchRequest.DiagnosticsRequest) {
            return new Dump(RpcJson.diagnostics(n));
        }
        if (request instanceof SwitchRequest.Transfer) {
            RpcJson.requireObject(n, "transfer result");
            List<Delivery> ds = new ArrayList<>();
            for (JsonNode pair : RpcJson.array(RpcJson.field(n, "messages"), "messages")) {
                if (!pair.isArray() || pair.size() != 2) {
                    throw new ProtocolException("expected [id, message], got " + pair);
                }
                ds.add(new Delivery(RpcJson.messageId(pair.get(0)), RpcJson.message(pair.get(1))));
            }
            JsonNode next = RpcJson.field(n, "next");
            return new Transferred(ds, next.isTextual() ? next.asText() : String.valueOf(RpcJson.int64(next)));
        }
        if (request instanceof SwitchRequest.Trace) {
            RpcJson.requireObject(n, "trace result");
            List<NumberedEvent> es = new ArrayList<>();
            for (JsonNode pair : RpcJson.array(RpcJson.field(n, "events"), "events")) {
                if (!pair.isArray() || pair.size() != 2) {
                    throw new ProtocolException("expected [n, event], got " + pair);
                }
                es.add(new NumberedEvent(RpcJson.int64(pair.get(0)), RpcJson.event(pair.get(1))));
            }
            return new Traced(es);
        }
        throw new ProtocolException("no response shape for " + request);
    }
}
