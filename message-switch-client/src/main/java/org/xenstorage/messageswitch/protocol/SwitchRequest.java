package org.xenstorage.messageswitch.protocol;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Every request the switch accepts (upstream's {@code Protocol.In}), with its HTTP form
 * ({@link #toHttp()}) and the switch-side parser ({@link #parse}). Both the client and the
 * embedded broker use these, so the two ends cannot drift apart.
 */
public sealed interface SwitchRequest {

    /** The HTTP method, path and body this request travels as. */
    HttpForm toHttp();

    /** Whether the switch serves this request on a connection that has not logged in. */
    default boolean allowedWithoutSession() {
        return false;
    }

    /** Associates the connection with the session named by {@code token}. */
    record Login(String token) implements SwitchRequest {
        public Login {
            Objects.requireNonNull(token, "token");
        }

        @Override
        public HttpForm toHttp() {
            return get("/login/" + PathSegments.encode(token));
        }

        @Override
        public boolean allowedWithoutSession() {
            return true;
        }
    }

    /** Creates a queue that lives until destroyed (and survives a switch restart). */
    record CreatePersistent(String name) implements SwitchRequest {
        public CreatePersistent {
            Objects.requireNonNull(name, "name");
        }

        @Override
        public HttpForm toHttp() {
            return get("/persistent/" + PathSegments.encode(name));
        }
    }

    /** Creates a queue owned by the session: removed when the session's last connection closes. */
    record CreateTransient(String name) implements SwitchRequest {
        public CreateTransient {
            Objects.requireNonNull(name, "name");
        }

        @Override
        public HttpForm toHttp() {
            return get("/transient/" + PathSegments.encode(name));
        }
    }

    /** Removes a queue and its messages. */
    record Destroy(String name) implements SwitchRequest {
        public Destroy {
            Objects.requireNonNull(name, "name");
        }

        @Override
        public HttpForm toHttp() {
            return get("/destroy/" + PathSegments.encode(name));
        }
    }

    /** Enqueues {@code message} on {@code queue}. */
    record Send(String queue, Message message) implements SwitchRequest {
        public Send {
            Objects.requireNonNull(queue, "queue");
            Objects.requireNonNull(message, "message");
        }

        @Override
        public HttpForm toHttp() {
            if (message.kind() instanceof MessageKind.Request r) {
                return new HttpForm("POST", "/request/" + PathSegments.encode(queue) + "/"
                        + PathSegments.encode(r.replyTo()), message.payload());
            }
            MessageId to = ((MessageKind.Response) message.kind()).requestId();
            return new HttpForm("POST", "/response/" + PathSegments.encode(queue) + "/"
                    + PathSegments.encode(to.queue()) + "/" + to.id(), message.payload());
        }
    }

    /**
     * Long-polls {@code queues}: every unacked message with an id above {@code from}, or waits up
     * to {@code timeoutSeconds} for one.
     */
    record Transfer(Optional<String> from, double timeoutSeconds, List<String> queues) implements SwitchRequest {
        public Transfer {
            Objects.requireNonNull(from, "from");
            queues = List.copyOf(queues);
            if (Double.isNaN(timeoutSeconds) || Double.isInfinite(timeoutSeconds)) {
                throw new IllegalArgumentException("transfer timeout must be finite");
            }
        }

        @Override
        public HttpForm toHttp() {
            ObjectNode o = RpcJson.MAPPER.createObjectNode();
            from.ifPresent(f -> o.put("from", f));
            o.putRawValue("timeout", RpcJson.rawFloat(timeoutSeconds));
            ArrayNode qs = o.putArray("queues");
            queues.forEach(qs::add);
            return new HttpForm("POST", "/transfer", RpcJson.write(o));
        }

        /** {@code from} as the number it carries (-1 when absent, as upstream). */
        public long fromId() {
            return from.map(Long::parseLong).orElse(-1L);
        }
    }

    /** Waits up to {@code timeoutSeconds} for trace events numbered above {@code ackTo}. */
    record Trace(long ackTo, double timeoutSeconds) implements SwitchRequest {
        @Override
        public HttpForm toHttp() {
            return get("/trace/" + ackTo + "/" + RpcJson.formatFloat(timeoutSeconds));
        }

        @Override
        public boolean allowedWithoutSession() {
            return true;
        }
    }

    /** Removes the message from its queue: it has been dealt with. */
    record Ack(MessageId id) implements SwitchRequest {
        public Ack {
            Objects.requireNonNull(id, "id");
        }

        @Override
        public HttpForm toHttp() {
            return get("/ack/" + PathSegments.encode(id.queue()) + "/" + id.id());
        }
    }

    /** Queue names starting with {@code prefix}; with {@code aliveOnly}, only queues someone polls. */
    record ListQueues(String prefix, boolean aliveOnly) implements SwitchRequest {
        public ListQueues {
            Objects.requireNonNull(prefix, "prefix");
        }

        @Override
        public HttpForm toHttp() {
            return get((aliveOnly ? "/list/alive/" : "/list/") + PathSegments.encode(prefix));
        }
    }

    /** The diagnostic dump of every queue. */
    record DiagnosticsRequest() implements SwitchRequest {
        @Override
        public HttpForm toHttp() {
            return get("/");
        }

        @Override
        public boolean allowedWithoutSession() {
            return true;
        }
    }

    /** Asks the switch to exit. */
    record Shutdown() implements SwitchRequest {
        @Override
        public HttpForm toHttp() {
            return new HttpForm("POST", "/shutdown", "");
        }
    }

    /** A resource of the switch's web interface, under {@code /admin/}. */
    record Get(List<String> path) implements SwitchRequest {
        public Get {
            path = List.copyOf(path);
        }

        @Override
        public HttpForm toHttp() {
            StringBuilder sb = new StringBuilder("/admin");
            for (String p : path) {
                sb.append('/').append(PathSegments.encode(p));
            }
            return get(sb.toString());
        }

        @Override
        public boolean allowedWithoutSession() {
            return true;
        }
    }

    private static HttpForm get(String path) {
        return new HttpForm("GET", path, "");
    }

    /**
     * The switch side: reads a request from its HTTP method, raw (still encoded) path and body.
     * Returns empty for anything the protocol does not define (the switch answers 404), and
     * throws {@link ProtocolException} for a known shape with a malformed argument.
     */
    public static Optional<SwitchRequest> parse(String method, String rawPath, String body) {
        String path = rawPath;
        int q = path.indexOf('?');
        if (q >= 0) {
            path = path.substring(0, q);
        }
        String[] seg = path.split("/", -1);
        if (seg.length < 2 || !seg[0].isEmpty()) {
            return Optional.empty();
        }
        boolean get = method.equals("GET") && body.isEmpty();
        boolean post = method.equals("POST");
        String head = seg[1];
        int n = seg.length;
        if (get && (head.equals("admin") || head.equals("js") || head.equals("css") || head.equals("images"))) {
            List<String> rest = new ArrayList<>();
            for (int i = head.equals("admin") ? 2 : 1; i < n; i++) {
                rest.add(PathSegments.decode(seg[i]));
            }
            return Optional.of(new Get(rest));
        }
        if (get && n == 2 && head.isEmpty()) {
            return Optional.of(new DiagnosticsRequest());
        }
        if (get && n == 3) {
            String arg = PathSegments.decode(seg[2]);
            switch (head) {
                case "login":
                    return Optional.of(new Login(arg));
                case "persistent":
                    return Optional.of(new CreatePersistent(arg));
                case "transient":
                    return Optional.of(new CreateTransient(arg));
                case "destroy":
                    return Optional.of(new Destroy(arg));
                case "list":
                    return Optional.of(new ListQueues(arg, false));
                default:
                    break;
            }
        }
        if (get && n == 4 && head.equals("ack")) {
            return Optional.of(new Ack(new MessageId(PathSegments.decode(seg[2]), parseLong(seg[3]))));
        }
        if (get && n == 4 && head.equals("list") && seg[2].equals("alive")) {
            return Optional.of(new ListQueues(PathSegments.decode(seg[3]), true));
        }
        if (get && n == 4 && head.equals("trace")) {
            return Optional.of(new Trace(parseLong(seg[2]), parseDouble(seg[3])));
        }
        if (get && n == 2 && head.equals("trace")) {
            return Optional.of(new Trace(-1L, 5.0));
        }
        if (post && n == 2 && head.equals("transfer")) {
            return Optional.of(parseTransfer(body));
        }
        if (post && n == 4 && head.equals("request")) {
            return Optional.of(new Send(PathSegments.decode(seg[2]),
                    new Message(body, new MessageKind.Request(PathSegments.decode(seg[3])))));
        }
        if (post && n == 5 && head.equals("response")) {
            MessageId to = new MessageId(PathSegments.decode(seg[3]), parseLong(seg[4]));
            return Optional.of(new Send(PathSegments.decode(seg[2]), new Message(body, new MessageKind.Response(to))));
        }
        if (post && body.isEmpty() && n == 2 && head.equals("shutdown")) {
            return Optional.of(new Shutdown());
        }
        return Optional.empty();
    }

    private static Transfer parseTransfer(String body) {
        JsonNode n = RpcJson.parse(body);
        RpcJson.requireObject(n, "transfer");
        JsonNode from = n.get("from");
        Optional<String> f = Optional.empty();
        if (from != null && !from.isNull()) {
            // rpclib accepts the option both as a bare value and as [value]
            JsonNode v = from.isArray() && from.size() == 1 ? from.get(0) : from;
            if (from.isArray() && from.size() == 0) {
                v = null;
            }
            if (v != null) {
                String s = v.isTextual() ? v.asText() : v.isIntegralNumber() ? v.asText() : null;
                if (s == null) {
                    throw new ProtocolException("transfer 'from' must be a string, got " + from);
                }
                parseLong(s);
                f = Optional.of(s);
            }
        }
        double timeout = RpcJson.number(RpcJson.field(n, "timeout"));
        if (Double.isNaN(timeout) || Double.isInfinite(timeout)) {
            throw new ProtocolException("transfer timeout must be finite");
        }
        List<String> queues = new ArrayList<>();
        for (JsonNode qn : RpcJson.array(RpcJson.field(n, "queues"), "queues")) {
            queues.add(RpcJson.text(qn, "queue name"));
        }
        return new Transfer(f, timeout, queues);
    }

    private static long parseLong(String s) {
        try {
            return Long.parseLong(s);
        } catch (NumberFormatException e) {
            throw new ProtocolException("not an int64: " + s);
        }
    }

    private static double parseDouble(String s) {
        try {
            double d = Double.parseDouble(s);
            if (Double.isNaN(d) || Double.isInfinite(d)) {
                throw new ProtocolException("not a finite float: " + s);
            }
            return d;
        } catch (NumberFormatException e) {
            throw new ProtocolException("not a float: " + s);
        }
    }
}
