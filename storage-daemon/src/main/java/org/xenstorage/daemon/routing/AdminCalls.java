package org.xenstorage.daemon.routing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.daemon.registry.SrBinding;
import org.xenstorage.daemon.registry.SrRegistry;
import org.xenstorage.daemon.updates.UpdateLog;
import org.xenstorage.exec.ChildProcessRunner;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.rpc.JsonRpc;
import org.xenstorage.idl.rpc.StorageDispatcher;
import org.xenstorage.idl.types.QueryResult;
import org.xenstorage.idl.types.TaskInfo;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.idl.wire.WireCodec;
import org.xenstorage.migrate.task.TaskTable;

/**
 * The daemon's extension calls on the mux queue (not SMAPIv2; same JSON-RPC envelope and error shapes):
 * {@code Registry.register/unregister/list/types} and {@code Mux.diagnostics}. Upstream xapi registers SRs
 * in-process when it binds a PBD; a separate daemon needs them on the wire (smctl uses them).
 */
public final class AdminCalls {
    private static final Logger LOG = LoggerFactory.getLogger(AdminCalls.class);

    /** xapi's API error for an SR type no backend serves, carried as {@code Backend_error} on the SMAPIv2 wire. */
    static final String SR_UNKNOWN_DRIVER = "SR_UNKNOWN_DRIVER";

    private final Mux mux;
    private final TaskTable tasks;
    private final UpdateLog updates;
    private final String queuePrefix;
    private final String switchDescription;
    private final String defaultBackendDomain;

    public AdminCalls(Mux mux, TaskTable tasks, UpdateLog updates, String queuePrefix, String switchDescription,
                      String defaultBackendDomain) {
        this.mux = mux;
        this.tasks = tasks;
        this.updates = updates;
        this.queuePrefix = queuePrefix;
        this.switchDescription = switchDescription;
        this.defaultBackendDomain = defaultBackendDomain;
    }

    /** Adds every extension call to {@code dispatcher}. */
    public StorageDispatcher install(StorageDispatcher dispatcher) {
        return dispatcher
                .withExtension("Registry.register", c -> run(() -> register(c)))
                .withExtension("Registry.unregister", c -> run(() -> unregister(c)))
                .withExtension("Registry.list", c -> run(() -> list(c)))
                .withExtension("Registry.types", c -> run(() -> types(c)))
                .withExtension("Mux.diagnostics", c -> run(() -> diagnostics(c)));
    }

    private interface Body {
        JsonNode get();
    }

    private static CompletableFuture<JsonNode> run(Body body) {
        try {
            return CompletableFuture.completedFuture(body.get());
        } catch (UncheckedIOException e) {
            LOG.error("cannot persist the SR registry", e);
            return CompletableFuture.failedFuture(StorageException.internal(
                    "cannot persist the SR registry: " + e.getCause().getMessage()));
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /**
     * {@code Registry.register [{"dbg","sr","sr_type"[,"backend_domain"]}] -> null}: binds the SR to
     * {@code <prefix>.<sr_type>} after asking that backend's {@code Query.query}, as upstream's
     * {@code Storage_access.bind} does: a type that is not the name of a live backend queue fails
     * {@code SR_UNKNOWN_DRIVER [sr_type]} (xapi's {@code check_queue_exists}); once the queue is known, any
     * failure (the query, persisting the binding) first sends {@code SR.reset} to that backend, so it forgets
     * whatever state it had for the SR, then fails with the original error.
     */
    JsonNode register(JsonRpc.Call call) {
        ObjectNode p = named(call);
        String dbg = string(p, "dbg");
        String sr = nonEmpty(p, "sr");
        String type = string(p, "sr_type");
        String backendDomain = optionalString(p, "backend_domain").orElse(defaultBackendDomain);
        BackendDirectory dir = mux.directory();
        if (!SrRegistry.validType(type) || !dir.isLive(type)) {
            LOG.warn("Registry.register: SR {}: no live backend of type {} (live types: {})", sr, type, dir.types());
            throw new StorageException(new StorageError.BackendError(SR_UNKNOWN_DRIVER, List.of(type)));
        }
        String queue = dir.queueOf(type);
        try {
            QueryResult q = mux.transportQuery(sr, queue, dbg);
            mux.registry().register(new SrBinding(sr, type, queue, backendDomain, q.features(),
                    q.smapiVersion().name()));
        } catch (RuntimeException e) {
            LOG.error("Registry.register: the backend on {} failed for SR {} ({}); resetting the SR's state there",
                    queue, sr, e.getMessage());
            try {
                mux.transportReset(sr, queue, dbg);
            } catch (RuntimeException resetFailure) {
                // upstream lets the reset's failure replace the original one; the original says what went wrong
                LOG.warn("Registry.register: SR.reset of SR {} on {} failed too: {}", sr, queue,
                        resetFailure.getMessage());
                e.addSuppressed(resetFailure);
            }
            throw e;
        }
        return NullNode.getInstance();
    }

    /** {@code Registry.unregister [{"dbg","sr"}] -> null}; idempotent. */
    JsonNode unregister(JsonRpc.Call call) {
        ObjectNode p = named(call);
        string(p, "dbg");
        mux.registry().unregister(nonEmpty(p, "sr"));
        return NullNode.getInstance();
    }

    /** {@code Registry.list [{"dbg"}] -> {"<sr>":{"sr_type":..,"queue":..}}}. */
    JsonNode list(JsonRpc.Call call) {
        string(named(call), "dbg");
        return srs();
    }

    /** {@code Registry.types [{"dbg"}] -> ["<type>", ...]} (live backend types, sorted). */
    JsonNode types(JsonRpc.Call call) {
        string(named(call), "dbg");
        ArrayNode a = Json.NODES.arrayNode();
        new java.util.TreeSet<>(mux.directory().types()).forEach(a::add);
        return a;
    }

    /** {@code Mux.diagnostics [{"dbg"}] -> {...}}: what an operator needs to see at a glance. */
    JsonNode diagnostics(JsonRpc.Call call) {
        string(named(call), "dbg");
        ObjectNode o = Json.NODES.objectNode();
        o.put("queue_prefix", queuePrefix);
        o.put("switch", switchDescription);
        o.set("types", types(call));
        o.set("srs", srs());
        ArrayNode ts = o.putArray("tasks");
        for (TaskInfo t : tasks.list("diagnostics")) {
            ts.add(WireCodec.encode(t, TaskInfo.class));
        }
        ObjectNode dps = o.putObject("datapaths");
        mux.datapaths().all().forEach((dp, i) -> {
            ObjectNode d = dps.putObject(dp);
            d.put("sr", i.sr());
            d.put("vdi", i.vdi());
            d.put("vm", i.vm());
            d.put("read_write", i.readWrite());
        });
        ObjectNode backends = o.putObject("backends");
        Map<String, Boolean> seen = new TreeMap<>(mux.directory().backends());
        mux.registry().all().values().forEach(b -> seen.putIfAbsent(b.srType(), mux.directory().isLive(b.srType())));
        seen.forEach((type, alive) -> {
            ObjectNode b = backends.putObject(type);
            b.put("queue", mux.directory().queueOf(type));
            b.put("alive", alive);
        });
        ArrayNode running = o.putArray("running_calls");
        for (ChildProcessRunner.RunningCall r : ChildProcessRunner.running()) {
            ObjectNode c = running.addObject();
            c.put("call", r.label());
            c.put("pid", r.pid());
            c.put("age_s", r.age().toSeconds());
        }
        ObjectNode u = o.putObject("updates");
        u.put("last_token", Long.toString(updates.lastId()));
        u.put("waiting_pollers", updates.waiting());
        return o;
    }

    private JsonNode srs() {
        ObjectNode o = Json.NODES.objectNode();
        new TreeMap<>(mux.registry().all()).forEach((sr, b) -> {
            ObjectNode e = o.putObject(sr);
            e.put("sr_type", b.srType());
            e.put("queue", b.queue());
        });
        return o;
    }

    // ---- parameter checks, worded as the SMAPIv2 dispatcher words them

    private static ObjectNode named(JsonRpc.Call call) {
        return call.namedParams().orElseThrow(() -> marshal(
                "Marshalling error: Expecting dict as first argument when named parameters exist"));
    }

    private static String string(ObjectNode p, String name) {
        JsonNode v = p.get(name);
        if (v == null) {
            throw marshal("Expecting named argument '" + name + "'");
        }
        if (!v.isTextual()) {
            throw marshal("Expected string for '" + name + "', got " + v);
        }
        return v.textValue();
    }

    private static String nonEmpty(ObjectNode p, String name) {
        String s = string(p, name);
        if (s.isEmpty()) {
            throw marshal("Expected a non-empty string for '" + name + "'");
        }
        return s;
    }

    private static Optional<String> optionalString(ObjectNode p, String name) {
        return p.has(name) ? Optional.of(string(p, name)) : Optional.empty();
    }

    private static StorageException marshal(String what) {
        return StorageException.internal("Idl.MarshalError(\"" + what.replace("\\", "\\\\").replace("\"", "\\\"")
                + "\")");
    }
}
