package org.xenstorage.smctl;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.rpc.JsonRpc;
import org.xenstorage.idl.rpc.MethodDescriptor;
import org.xenstorage.idl.rpc.RpcTransport;
import org.xenstorage.idl.rpc.StorageClient;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.messageswitch.client.SwitchException;

/**
 * One smctl run's connection to the daemon's mux queue: typed SMAPIv2 proxies (for following tasks),
 * raw calls that keep the reply's JSON (for printing it as it came), and the daemon's extension calls.
 * Connects on first use, so {@code help} and usage errors never touch the switch.
 */
final class Session implements AutoCloseable {
    /** Slack over the call timeout before smctl stops waiting itself, in case a reply is lost on the way. */
    private static final Duration GUARD = Duration.ofSeconds(5);

    private final CommonOptions options;
    private final SwitchLink.Connector connector;
    private SwitchLink link;
    private boolean muxChecked;

    Session(CommonOptions options, SwitchLink.Connector connector) {
        this.options = options;
        this.connector = connector;
    }

    CommonOptions options() {
        return options;
    }

    /** The mux: the queue named by the prefix itself. */
    String muxQueue() {
        return options.queuePrefix();
    }

    SwitchLink link() {
        if (link == null) {
            link = connector.connect(options.address(), options.timeout());
        }
        return link;
    }

    /**
     * The link, once the mux queue is known to be served. A persistent queue outlives its daemon, and a
     * request sent to it would only time out; asking the switch which queues are polled fails fast instead.
     */
    SwitchLink muxLink() {
        SwitchLink l = link();
        if (!muxChecked) {
            if (!l.queues(muxQueue(), true, options.timeout()).contains(muxQueue())) {
                boolean exists = l.queues(muxQueue(), false, options.timeout()).contains(muxQueue());
                throw new SwitchException(SwitchException.Kind.NO_SUCH_QUEUE, muxQueue(), exists
                        ? "queue " + muxQueue() + " exists but nobody is polling it" : "no queue " + muxQueue());
            }
            muxChecked = true;
        }
        return l;
    }

    /** JSON-RPC texts to the mux queue, with the given reply timeout. */
    RpcTransport transport(Duration timeout) {
        return request -> muxLink().call(muxQueue(), request, timeout);
    }

    /** Typed SMAPIv2 proxies over the mux queue. */
    StorageService storage() {
        return StorageClient.of(transport(options.timeout()));
    }

    /** Typed proxies whose calls may wait longer (a long-poll of {@code timeout} plus the usual reply time). */
    StorageService storage(Duration extra) {
        return StorageClient.of(transport(options.timeout().plus(extra)));
    }

    /** Calls a SMAPIv2 method; the result as it came on the wire. @throws CallFailed on an error reply */
    JsonNode call(MethodDescriptor method, Object[] args) {
        return send(method.wireName(), StorageClient.encodeRequest(method, args));
    }

    /**
     * Calls a SMAPIv2 method on another queue than the mux (a backend's {@code <prefix>.<type>}); the result
     * as it came on the wire. @throws CallFailed on an error reply
     */
    JsonNode callQueue(String queue, MethodDescriptor method, Object[] args) {
        return send(link(), queue, method.wireName(), StorageClient.encodeRequest(method, args));
    }

    /** Calls a daemon extension ({@code Registry.*}, {@code Mux.diagnostics}) with named parameters. */
    JsonNode extension(String method, ObjectNode params) {
        return send(method, JsonRpc.request(method, params));
    }

    /**
     * Calls a daemon extension with named text parameters ({@code dbg} first, then {@code params} in order),
     * the request written without {@code Json}'s {@code ObjectMapper}: the fast path's form of
     * {@link #extension(String, ObjectNode)}, same request but for its id.
     */
    JsonNode extension(String method, java.util.Map<String, String> params) {
        java.util.Map<String, String> all = new java.util.LinkedHashMap<>();
        all.put("dbg", options.dbg());
        all.putAll(params);
        return send(method, TreeJson.request(method, all));
    }

    /** A named-parameter object holding the session's {@code dbg}. */
    ObjectNode params() {
        ObjectNode p = Json.NODES.objectNode();
        p.put("dbg", options.dbg());
        return p;
    }

    /** The switch's queues under the prefix (itself included). */
    List<String> queues(boolean aliveOnly) {
        return link().queues(muxQueue(), aliveOnly, options.timeout());
    }

    private JsonNode send(String method, String request) {
        return send(muxLink(), muxQueue(), method, request);
    }

    private JsonNode send(SwitchLink via, String queue, String method, String request) {
        String reply = await(via.call(queue, request, options.timeout()), options.timeout().plus(GUARD));
        JsonRpc.Response response;
        try {
            JsonNode root;
            try {
                // the IDL's Json.parse, but without building its ObjectMapper (start-up time)
                root = TreeJson.parse(reply);
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw new IllegalArgumentException("malformed JSON-RPC response (not JSON: " + e.getOriginalMessage()
                        + ")");
            }
            response = JsonRpc.parseResponse(root);
        } catch (IllegalArgumentException e) {
            throw new UnreadableReply(method + ": " + e.getMessage());
        }
        if (response.error().isPresent()) {
            throw new CallFailed(response.error().get());
        }
        return response.result();
    }

    static <T> T await(CompletableFuture<T> future, Duration limit) {
        try {
            return future.get(limit.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            future.cancel(true);
            throw new SwitchException(SwitchException.Kind.TIMEOUT, null,
                    "no reply within " + limit.toSeconds() + " s");
        } catch (ExecutionException | CompletionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException re) {
                throw re;
            }
            throw new UnreadableReply(String.valueOf(cause));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SwitchException(SwitchException.Kind.CLOSED, null, "interrupted");
        }
    }

    @Override
    public void close() {
        if (link != null) {
            link.close();
        }
    }

    /** A reply smctl cannot read as JSON-RPC; exits with {@link ExitStatus#INTERNAL}. */
    static final class UnreadableReply extends RuntimeException {
        UnreadableReply(String message) {
            super(message, null, false, false);
        }
    }
}
