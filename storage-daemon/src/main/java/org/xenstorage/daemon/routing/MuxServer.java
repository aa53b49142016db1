package org.xenstorage.daemon.routing;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.daemon.updates.UpdatesService;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.rpc.JsonRpc;
import org.xenstorage.idl.rpc.StorageDispatcher;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.logging.CallContext;
import org.xenstorage.migrate.task.TaskTable;

/**
 * What serves the mux queue: one request text in, one reply text out, never a thrown exception.
 *
 * <ul>
 *   <li>{@code SR.detach} and {@code SR.destroy} are not forwarded: the mux checks its DP_info first.</li>
 *   <li>{@code VDI.snapshot} is forwarded, but a backend's {@code Activated_on_another_host} answer becomes
 *       {@code Redirect} to that host's address, as upstream's mux does.</li>
 *   <li>Calls the mux only routes ({@link #FORWARDED}) are forwarded as the same text to the SR's backend
 *       queue: no decode/encode, no thread held while the backend works.</li>
 *   <li>{@code UPDATES.get}, {@code TASK.*}, {@code Query.query} and {@code DP.create} are answered inline:
 *       they never block (a long-poll is a future).</li>
 *   <li>Everything else (fan-out, DP_info bookkeeping, registry calls) runs on the worker pool.</li>
 * </ul>
 * Every log line of a call carries its {@code dbg} and the queue (MDC keys {@code dbg}, {@code queue}); each call
 * logs its arrival ({@code call VDI.attach3 sr=... vdi=...}) and its reply ({@code reply VDI.attach3 in 41 ms: ok}).
 */
public final class MuxServer {
    private static final Logger LOG = LoggerFactory.getLogger(MuxServer.class);

    /** Calls routed by their {@code sr} argument and forwarded unchanged (upstream: route(sr), forward). */
    static final Set<String> FORWARDED = Set.of(
            "SR.create", "SR.attach", "SR.reset", "SR.stat", "SR.scan", "SR.scan2",
            "SR.set_name_label", "SR.set_name_description",
            "VDI.create", "VDI.set_name_label", "VDI.set_name_description", "VDI.snapshot", "VDI.clone",
            "VDI.resize", "VDI.destroy", "VDI.stat", "VDI.introduce", "VDI.set_persistent", "VDI.epoch_begin",
            "VDI.activate", "VDI.activate_readonly", "VDI.epoch_end", "VDI.get_url", "VDI.similar_content",
            "VDI.get_by_name", "VDI.set_content_id", "VDI.compose", "VDI.add_to_sm_config",
            "VDI.remove_from_sm_config", "VDI.add_tags", "VDI.remove_tags", "VDI.enable_cbt", "VDI.disable_cbt",
            "VDI.data_destroy", "VDI.list_changed_blocks", "VDI.revert",
            "DP.attach_info", "DP.stat_vdi",
            "DATA.mirror", "DATA.stat", "DATA.import_activate", "DATA.get_nbd_server",
            // xen-api v25.11.0's names of the two calls above: its mux forwarded them, under these names, to
            // the SR's backend (our backends serve both names; a v25.11.0 backend only these)
            "DATA.MIRROR.import_activate", "DATA.MIRROR.get_nbd_server");

    /** Calls that never block, answered on the receiving thread. */
    private static final Set<String> INLINE = Set.of("UPDATES.get", "TASK.stat", "TASK.cancel", "TASK.destroy",
            "TASK.list", "Query.query", "DP.create");

    /**
     * Calls logged at DEBUG, not INFO: pollers and read-only queries that xapi, smctl and monitoring send all
     * the time (every other call logs two INFO lines, its arrival and its reply).
     */
    static final Set<String> QUIET = Set.of("UPDATES.get", "TASK.stat", "TASK.list", "Query.query",
            "Query.diagnostics", "SR.list", "SR.stat", "VDI.stat", "DP.stat_vdi", "DP.diagnostics",
            "DP.attach_info", "DATA.stat", "DATA.MIRROR.stat", "DATA.MIRROR.list", "Registry.list",
            "Registry.types", "Mux.diagnostics");

    private final Mux mux;
    private final StorageDispatcher dispatcher;
    private final Executor workers;
    private final String queue;

    public MuxServer(Mux mux, TaskTable tasks, UpdatesService updates, AdminCalls admin, Executor workers,
                     String queue) {
        this.mux = mux;
        StorageService service = new StorageService(mux, mux, mux, mux, mux, mux, mux.mirrors(), mux, tasks,
                updates);
        this.dispatcher = admin.install(new StorageDispatcher(service));
        this.workers = workers;
        this.queue = queue;
    }

    /** Handles one request; the future always completes normally with a reply text. */
    public CompletableFuture<String> handle(String request) {
        JsonNode root;
        try {
            root = Json.parse(request);
        } catch (Exception e) {
            return dispatcher.dispatch(request); // answers the malformed-request error
        }
        JsonRpc.Summary call = JsonRpc.summarise(root);
        String method = call.method();
        long start = System.nanoTime();
        try (CallContext.Scope scope = CallContext.enter(queue, call.dbg())) {
            boolean quiet = QUIET.contains(method);
            if (quiet ? LOG.isDebugEnabled() : LOG.isInfoEnabled()) {
                String what = CallContext.sanitise(call.describe(), 600);
                if (quiet) {
                    LOG.debug("call {}", what);
                } else {
                    LOG.info("call {}", what);
                }
            }
            CompletableFuture<String> reply = route(root, method, request);
            CallContext.whenDone(reply, (text, failure) -> logReply(method, quiet, text, failure, start));
            return reply;
        }
    }

    private CompletableFuture<String> route(JsonNode root, String method, String request) {
        JsonNode named = root.path("params").path(0);
        JsonNode id = root.get("id");
        JsonNode sr = named.get("sr");
        if (FORWARDED.contains(method) && sr != null && sr.isTextual() && id != null
                && (id.isIntegralNumber() || id.isTextual())) {
            return method.equals("VDI.snapshot") ? mux.forwardSnapshot(sr.textValue(), request, id, workers)
                    : mux.forward(sr.textValue(), request, id);
        }
        if (INLINE.contains(method)) {
            return dispatcher.dispatch(request);
        }
        try {
            return CompletableFuture.supplyAsync(CallContext.wrap(() -> dispatcher.dispatch(request)), workers)
                    .thenCompose(f -> f);
        } catch (RejectedExecutionException e) {
            JsonNode replyId = id != null && (id.isIntegralNumber() || id.isTextual()) ? id
                    : Json.NODES.numberNode(0);
            return CompletableFuture.completedFuture(JsonRpc.failure(
                    new StorageError.InternalError("the storage daemon is shutting down"), replyId));
        }
    }

    /** The call's last line: how it ended and how long it took (INFO, DEBUG for {@link #QUIET} calls). */
    private static void logReply(String method, boolean quiet, String reply, Throwable failure, long start) {
        if (!(quiet ? LOG.isDebugEnabled() : LOG.isInfoEnabled())) {
            return;
        }
        // the message's line breaks are escaped by the log pattern
        String outcome = failure != null ? "failed: " + failure : JsonRpc.outcome(reply, 500);
        long ms = (System.nanoTime() - start) / 1_000_000;
        if (quiet) {
            LOG.debug("reply {} in {} ms: {}", CallContext.sanitise(method), ms, outcome);
        } else {
            LOG.info("reply {} in {} ms: {}", CallContext.sanitise(method), ms, outcome);
        }
    }
}
