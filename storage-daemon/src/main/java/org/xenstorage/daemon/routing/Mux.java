package org.xenstorage.daemon.routing;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.daemon.registry.SrBinding;
import org.xenstorage.daemon.registry.SrRegistry;
import org.xenstorage.idl.api.DataApi;
import org.xenstorage.idl.api.DataMirrorApi;
import org.xenstorage.idl.api.DpApi;
import org.xenstorage.idl.api.GetByNameApi;
import org.xenstorage.idl.api.PolicyApi;
import org.xenstorage.idl.api.QueryApi;
import org.xenstorage.idl.api.SrApi;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.api.VdiApi;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.rpc.JsonRpc;
import org.xenstorage.idl.rpc.MethodDescriptor;
import org.xenstorage.idl.rpc.MethodTable;
import org.xenstorage.idl.rpc.RpcTransport;
import org.xenstorage.idl.rpc.StorageClient;
import org.xenstorage.idl.rpc.StorageDispatcher;
import org.xenstorage.idl.types.AttachInfo;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.DpStat;
import org.xenstorage.idl.types.Implementation;
import org.xenstorage.idl.types.MirrorInfo;
import org.xenstorage.idl.types.MirrorOperation;
import org.xenstorage.idl.types.MirrorStatus;
import org.xenstorage.idl.types.QueryResult;
import org.xenstorage.idl.types.Scan2Result;
import org.xenstorage.idl.types.SmapiVersion;
import org.xenstorage.idl.types.SrInfo;
import org.xenstorage.idl.types.SrVdi;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.idl.wire.WireCodec;
import org.xenstorage.logging.CallContext;
import org.xenstorage.messageswitch.client.SwitchException;
import org.xenstorage.threads.EventLoopGuard;

/**
 * The storage multiplexor (upstream {@code Storage_mux}): every per-SR call goes to the queue of the
 * backend the SR is registered with, calls that span backends fan out, and the mux keeps its own
 * DP_info records so datapaths can be torn down without the caller's sr. Each hop to a backend is a
 * message-switch call; a reader finds any call's routing rule in the method of the same name below.
 *
 * <p>A call with no method below answers {@code Unimplemented} (the interfaces' defaults): {@code SR.probe}
 * (as upstream, probes go straight to {@code <prefix>.<type>}) and {@code SR.update_snapshot_info_src/dest}
 * (upstream's dest side edits xapi's database; a standalone daemon has none).
 */
public final class Mux implements QueryApi, DpApi, SrApi, VdiApi, GetByNameApi, DataApi, PolicyApi {
    private static final Logger LOG = LoggerFactory.getLogger(Mux.class);

    /** Upstream's fixed answer of the mux to {@code Query.query}. */
    public static final QueryResult QUERY_RESULT = new QueryResult("mux", "storage multiplexor",
            "forwards calls to other plugins", "XCP", "see the source code", "2.0", "2.0", List.of(), Map.of(),
            List.of(), List.of(), SmapiVersion.SMAPIv2);

    private final SrRegistry registry;
    private final DpInfoStore dps;
    private final BackendDirectory directory;
    private final SwitchLink link;
    private final Duration callTimeout;
    private final Duration fanoutTimeout;
    private volatile DataApi dataCopy;
    private volatile DataMirrorApi mirrors = new NoMirrors();
    private volatile DeactivateHook afterDeactivate = (dbg, sr, vdi) -> { };
    private volatile Function<String, Optional<String>> hostAddresses = uuid -> Optional.empty();

    /**
     * @param callTimeout   how long a call routed to one SR waits for its backend
     * @param fanoutTimeout how long a fan-out ({@code SR.list}, {@code Query.diagnostics}, {@code get_by_name}
     *                      without an SR) waits for each backend, so that one slow backend cannot hold it for
     *                      the whole call timeout
     */
    public Mux(SrRegistry registry, DpInfoStore dps, BackendDirectory directory, SwitchLink link,
               Duration callTimeout, Duration fanoutTimeout) {
        this.registry = registry;
        this.dps = dps;
        this.directory = directory;
        this.link = link;
        this.callTimeout = callTimeout;
        this.fanoutTimeout = fanoutTimeout.compareTo(callTimeout) < 0 ? fanoutTimeout : callTimeout;
    }

    /**
     * Where {@code DATA.copy} goes (storage-migrate's service) and who answers {@code DATA.MIRROR.*}; until
     * set, {@code DATA.copy} answers {@code Unimplemented} and no mirror exists.
     */
    public void setDataService(DataApi copy, DataMirrorApi mirrorApi) {
        this.dataCopy = copy;
        this.mirrors = mirrorApi;
    }

    /** What runs after a successful {@code VDI.deactivate} (upstream's {@code post_deactivate_hook}). */
    @FunctionalInterface
    public interface DeactivateHook {
        /** Called with the deactivated datapath's SR and VDI; its failures are logged, never answered. */
        void deactivated(String dbg, String sr, String vdi);
    }

    /**
     * Sets the hook run after each successful {@code VDI.deactivate}: storage-migrate's, which finalizes a live
     * mirror of that VDI on its destination once the source stopped writing (upstream's mux does the same).
     */
    public void setDeactivateHook(DeactivateHook hook) {
        this.afterDeactivate = Objects.requireNonNull(hook, "hook");
    }

    /**
     * Where a host's address is looked up by uuid (xapi's database, or the embedded catalogue), for turning
     * {@code Activated_on_another_host} from {@code VDI.snapshot} into {@code Redirect}; until set, nobody is
     * known and the error passes through. The lookup may block: it runs on a worker thread.
     */
    public void setHostAddresses(Function<String, Optional<String>> lookup) {
        this.hostAddresses = lookup;
    }

    /**
     * Upstream's mux answer to a snapshot the backend says is active on another host: {@code Redirect(Some
     * <that host's address>)}, where xapi sends it again. Empty for any other error, or when no host has the
     * uuid (the error then passes through as the backend answered it).
     */
    Optional<StorageError> snapshotRedirect(StorageError error) {
        if (!(error instanceof StorageError.ActivatedOnAnotherHost elsewhere)) {
            return Optional.empty();
        }
        EventLoopGuard.mayBlock("Mux: host address lookup");
        Optional<String> address = hostAddresses.apply(elsewhere.host());
        if (address.isEmpty()) {
            LOG.warn("VDI.snapshot: the VDI is active on host {}, whose address is unknown: no redirect",
                    elsewhere.host());
            return Optional.empty();
        }
        LOG.info("VDI.snapshot: the VDI is active on host {}: redirecting to {}", elsewhere.host(), address.get());
        return Optional.of(new StorageError.Redirect(address));
    }

    /**
     * {@link #forward} for {@code VDI.snapshot}: the backend's reply text unchanged, but for an
     * {@code Activated_on_another_host} error, which becomes {@code Redirect} (looked up on {@code workers}).
     */
    public CompletableFuture<String> forwardSnapshot(String sr, String request, JsonNode id, Executor workers) {
        Map<String, String> call = CallContext.capture(); // the lookup's lines belong to the call
        return forward(sr, request, id).thenCompose(reply -> {
            Optional<JsonNode> error;
            try {
                error = JsonRpc.parseResponse(reply).error();
            } catch (IllegalArgumentException e) {
                return CompletableFuture.completedFuture(reply);
            }
            if (error.isEmpty() || !error.get().isArray()
                    || !"Activated_on_another_host".equals(error.get().path(0).asText())) {
                return CompletableFuture.completedFuture(reply);
            }
            StorageError decoded;
            try {
                decoded = WireCodec.decode(error.get(), StorageError.class);
            } catch (RuntimeException e) {
                return CompletableFuture.completedFuture(reply);
            }
            return CompletableFuture.supplyAsync(CallContext.wrap(call, () -> snapshotRedirect(decoded)
                    .map(redirect -> JsonRpc.failure(redirect, id)).orElse(reply)), workers);
        });
    }

    /** The {@code DATA.MIRROR} implementation served on the mux queue. */
    public DataMirrorApi mirrors() {
        return mirrors;
    }

    public SrRegistry registry() {
        return registry;
    }

    public DpInfoStore datapaths() {
        return dps;
    }

    public BackendDirectory directory() {
        return directory;
    }

    // ---------------------------------------------------------------- routing primitives

    /** The SR's binding, or {@code No_storage_plugin_for_sr}. */
    public SrBinding binding(String sr) {
        Optional<SrBinding> b = registry.lookup(sr);
        if (b.isEmpty()) {
            LOG.info("no storage plugin for SR {} (registered SRs: {})", sr, registry.srs());
            throw new StorageException(new StorageError.NoStoragePluginForSr(sr));
        }
        return b.get();
    }

    /** The SR's backend as typed client proxies over the switch; a dead backend fails here, at once. */
    public StorageService route(String sr) {
        // the typed proxies wait for their replies: worker threads only
        EventLoopGuard.mayBlock("Mux.route " + sr);
        SrBinding b = binding(sr);
        if (!directory.isLive(b.srType())) {
            throw notServed(sr, b);
        }
        return StorageClient.of(transport(sr, b.queue()));
    }

    private static StorageException notServed(String sr, SrBinding b) {
        LOG.warn("SR {} is registered with {} but nobody serves that queue", sr, b.queue());
        return new StorageException(new StorageError.NoStoragePluginForSr(sr));
    }

    /** The SR's binding once its backend is known to be alive; never blocks. */
    private CompletableFuture<SrBinding> liveBinding(String sr) {
        SrBinding b;
        try {
            b = binding(sr);
        } catch (StorageException e) {
            return CompletableFuture.failedFuture(e);
        }
        // may complete on the thread that learnt the liveness: its warning carries the call's context
        return directory.liveness(b.srType()).thenApply(CallContext.wrapFunction(live -> {
            if (!live) {
                throw notServed(sr, b);
            }
            return b;
        }));
    }

    /**
     * Forwards a request text unchanged to the SR's backend and answers with the backend's reply text
     * (the fast path for calls the mux does not need to inspect). Never fails: errors become replies.
     */
    public CompletableFuture<String> forward(String sr, String request, com.fasterxml.jackson.databind.JsonNode id) {
        return liveBinding(sr).thenCompose(b -> transport(sr, b.queue()).call(request))
                .handle((reply, failure) -> failure == null ? reply
                        : org.xenstorage.idl.rpc.JsonRpc.failure(StorageDispatcher.errorOf(failure), id));
    }

    /** A transport to one queue whose switch failures become storage errors naming {@code sr}. */
    RpcTransport transport(String sr, String queue) {
        // the failure is mapped (and logged) on the thread that learnt it: with the call's context
        return text -> directory.track(queue, link.call(queue, text, callTimeout))
                .exceptionally(CallContext.wrapFunction(t -> {
                    throw new CompletionException(switchFailure(sr, queue, t));
                }));
    }

    private StorageException switchFailure(String sr, String queue, Throwable failure) {
        Throwable t = unwrap(failure);
        if (t instanceof StorageException se) {
            return se;
        }
        if (t instanceof SwitchException se) {
            return switch (se.kind()) {
                case NO_SUCH_QUEUE -> {
                    LOG.warn("backend queue {} of SR {} is not served: {}", queue, sr, se.getMessage());
                    yield new StorageException(new StorageError.NoStoragePluginForSr(sr));
                }
                case TIMEOUT -> StorageException.internal("Timeout: the backend on " + queue + " did not reply within "
                        + callTimeout.toSeconds() + " s");
                default -> StorageException.internal("message-switch " + se.kind() + " while calling " + queue
                        + ": " + se.getMessage());
            };
        }
        return StorageException.internal(t.toString());
    }

    @SuppressWarnings("unchecked")
    private <T> CompletableFuture<T> callAsync(String sr, String queue, String method, Object... args) {
        MethodDescriptor m = MethodTable.byWireName(method)
                .orElseThrow(() -> new IllegalArgumentException("not a SMAPIv2 method: " + method));
        String request = StorageClient.encodeRequest(m, args);
        return transport(sr, queue).call(request).thenApply(reply -> (T) StorageClient.decodeResponse(m, reply));
    }

    /** {@code Query.query} on a backend queue (for registration), with switch failures mapped. */
    QueryResult transportQuery(String sr, String queue, String dbg) {
        return join(this.<QueryResult>callAsync(sr, queue, "Query.query", dbg));
    }

    /** {@code SR.reset} on a backend queue (a failed registration's clean-up), with switch failures mapped. */
    void transportReset(String sr, String queue, String dbg) {
        join(this.<Void>callAsync(sr, queue, "SR.reset", dbg, sr));
    }

    private static <T> T join(CompletableFuture<T> f) {
        EventLoopGuard.mayBlock("Mux: waiting for a backend's reply");
        try {
            return f.join();
        } catch (CompletionException e) {
            Throwable c = e.getCause();
            throw c instanceof RuntimeException re ? re : e;
        }
    }

    /**
     * One backend's answer to a fan-out: its value, or the failure it answered, or why it was skipped (its
     * queue is not served, or it did not answer within the fan-out timeout; {@code failure} then says so as
     * a storage error too).
     */
    private record Answer<T>(T value, StorageException failure, String skipped) {
    }

    /**
     * Asks one backend for a fan-out; never fails. A backend whose queue is not live is skipped at once (no
     * call is sent), a live one gets {@link #fanoutTimeout} to answer.
     */
    private <T> CompletableFuture<Answer<T>> ask(SrBinding b, String method, Object... args) {
        // the answer is judged (and a timeout logged) on whichever thread completes it: with the call's context
        return directory.liveness(b.srType()).thenCompose(CallContext.wrapFunction(live -> {
            if (!live) {
                return CompletableFuture.completedFuture(new Answer<T>(null,
                        new StorageException(new StorageError.NoStoragePluginForSr(b.sr())),
                        "no live backend queue " + b.queue()));
            }
            return this.<T>callAsync(b.sr(), b.queue(), method, args)
                    .orTimeout(fanoutTimeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)
                    .handle(CallContext.wrapBiFunction((value, failure) -> {
                        if (failure == null) {
                            return new Answer<>(value, null, null);
                        }
                        Throwable t = unwrap(failure);
                        if (t instanceof java.util.concurrent.TimeoutException) {
                            String why = "the backend on " + b.queue() + " did not answer " + method + " within "
                                    + fanoutTimeout.toMillis() + " ms";
                            LOG.warn("fan-out: {}", why);
                            return new Answer<T>(null, StorageException.internal("Timeout: " + why), why);
                        }
                        if (t instanceof StorageException se
                                && se.error() instanceof StorageError.NoStoragePluginForSr) {
                            return new Answer<T>(null, se, "no live backend queue " + b.queue());
                        }
                        return new Answer<T>(null, t instanceof StorageException se ? se
                                : StorageException.internal(t.toString()), null);
                    }));
        }));
    }

    private static Throwable unwrap(Throwable failure) {
        Throwable t = failure;
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    /** One backend call per distinct queue of the registered SRs (each keyed by the first SR using it). */
    private Map<String, SrBinding> queuesOfRegisteredSrs() {
        Map<String, SrBinding> byQueue = new TreeMap<>();
        for (SrBinding b : registry.all().values()) {
            byQueue.merge(b.queue(), b, (x, y) -> x.sr().compareTo(y.sr()) <= 0 ? x : y);
        }
        return byQueue;
    }

    // ---------------------------------------------------------------- Query

    @Override
    public QueryResult query(String dbg) {
        return QUERY_RESULT;
    }

    /**
     * Fail-or fan-out: every SR's backend diagnostics, or the first failure a backend answered (in SR order).
     * A backend that is not served or does not answer within the fan-out timeout does not fail the call: its
     * SRs get a {@code Skipped: <why>} line instead of {@code Success:} (upstream waits for it).
     */
    @Override
    public String diagnostics(String dbg) {
        Map<String, SrBinding> srs = new TreeMap<>(registry.all());
        Map<String, CompletableFuture<Answer<String>>> byQueue = new LinkedHashMap<>();
        queuesOfRegisteredSrs().forEach((q, b) -> byQueue.put(q, ask(b, "Query.diagnostics", dbg)));
        List<String> lines = new ArrayList<>();
        for (SrBinding b : srs.values()) {
            Answer<String> a = join(byQueue.get(b.queue()));
            if (a.skipped() == null && a.failure() != null) {
                throw a.failure();
            }
            lines.add("For SR: " + b.sr());
            lines.add(a.skipped() != null ? "Skipped: " + a.skipped() : "Success: " + a.value());
        }
        return String.join("\n", lines);
    }

    // ---------------------------------------------------------------- SR

    @Override
    public Map<String, String> create(String dbg, String sr, String nameLabel, String nameDescription,
                                      Map<String, String> deviceConfig, long physicalSize) {
        return route(sr).sr().create(dbg, sr, nameLabel, nameDescription, deviceConfig, physicalSize);
    }

    @Override
    public void setNameLabel(String dbg, String sr, String newNameLabel) {
        route(sr).sr().setNameLabel(dbg, sr, newNameLabel);
    }

    @Override
    public void setNameDescription(String dbg, String sr, String newNameDescription) {
        route(sr).sr().setNameDescription(dbg, sr, newNameDescription);
    }

    @Override
    public void attach(String dbg, String sr, Map<String, String> deviceConfig) {
        route(sr).sr().attach(dbg, sr, deviceConfig);
    }

    /**
     * Tears down the SR's datapaths (from DP_info) first, as upstream's SMAPIv1 wrapper does for its own SRs,
     * so no backend (a SMAPIv3 plugin included) is left with datapaths of a detached SR; a datapath that cannot
     * be torn down fails the detach (the SR stays attached).
     */
    @Override
    public void detach(String dbg, String sr) {
        StorageService backend = route(sr);
        for (Map.Entry<String, DpInfo> e : datapathsOf(sr).entrySet()) {
            DpInfo i = e.getValue();
            LOG.info("SR.detach {}: tearing down datapath {} (vdi {}, vm {}) first", sr, e.getKey(), i.vdi(), i.vm());
            backend.dp().destroy2(dbg, e.getKey(), sr, i.vdi(), i.vm(), false);
            dps.remove(e.getKey());
        }
        backend.sr().detach(dbg, sr);
    }

    private Map<String, DpInfo> datapathsOf(String sr) {
        Map<String, DpInfo> out = new TreeMap<>();
        dps.all().forEach((dp, i) -> {
            if (i.sr().equals(sr)) {
                out.put(dp, i);
            }
        });
        return out;
    }

    @Override
    public void reset(String dbg, String sr) {
        route(sr).sr().reset(dbg, sr);
    }

    /**
     * Refused while datapaths of the SR exist: destroying would delete the volumes under them. A successful
     * destroy unregisters the SR.
     */
    @Override
    public void destroy(String dbg, String sr) {
        Map<String, DpInfo> active = datapathsOf(sr);
        if (!active.isEmpty()) {
            LOG.warn("SR.destroy {} refused: datapaths {} are still attached", sr, active.keySet());
            throw new StorageException(new StorageError.BackendError("SR_DEVICE_IN_USE",
                    List.of(sr, "datapaths still attached: " + String.join(", ", active.keySet()))));
        }
        route(sr).sr().destroy(dbg, sr);
        // as upstream's destroy_sr unbinds the PBD once the SR is gone (not when the destroy failed)
        try {
            registry.unregister(sr);
        } catch (java.io.UncheckedIOException e) {
            // the SR is destroyed either way; a stale binding only sends its later calls to a backend that
            // no longer knows it
            LOG.error("SR.destroy {}: the SR is destroyed but its binding could not be removed", sr, e);
        }
    }

    @Override
    @SuppressWarnings("deprecation")
    public List<VdiInfo> scan(String dbg, String sr) {
        return route(sr).sr().scan(dbg, sr);
    }

    @Override
    public Scan2Result scan2(String dbg, String sr) {
        return route(sr).sr().scan2(dbg, sr);
    }

    @Override
    public SrInfo stat(String dbg, String sr) {
        return route(sr).sr().stat(dbg, sr);
    }

    /** Union fan-out: what every backend of a registered SR reports attached; failures are ignored. */
    @Override
    public List<String> list(String dbg) {
        List<CompletableFuture<Answer<List<String>>>> calls = new ArrayList<>();
        queuesOfRegisteredSrs().forEach((q, b) -> calls.add(ask(b, "SR.list", dbg)));
        TreeSet<String> union = new TreeSet<>();
        for (CompletableFuture<Answer<List<String>>> c : calls) {
            Answer<List<String>> a = join(c);
            if (a.failure() == null) {
                union.addAll(a.value());
            } else {
                LOG.info("SR.list: ignoring a backend: {}", a.skipped() != null ? a.skipped() : a.failure().getMessage());
            }
        }
        return new ArrayList<>(union);
    }

    // ---------------------------------------------------------------- VDI

    @Override
    public VdiInfo create(String dbg, String sr, VdiInfo vdiInfo) {
        return route(sr).vdi().create(dbg, sr, vdiInfo);
    }

    @Override
    public void setNameLabel(String dbg, String sr, String vdi, String newNameLabel) {
        route(sr).vdi().setNameLabel(dbg, sr, vdi, newNameLabel);
    }

    @Override
    public void setNameDescription(String dbg, String sr, String vdi, String newNameDescription) {
        route(sr).vdi().setNameDescription(dbg, sr, vdi, newNameDescription);
    }

    @Override
    public VdiInfo snapshot(String dbg, String sr, VdiInfo vdiInfo) {
        try {
            return route(sr).vdi().snapshot(dbg, sr, vdiInfo);
        } catch (StorageException e) {
            throw snapshotRedirect(e.error()).map(StorageException::new).orElse(e);
        }
    }

    @Override
    public VdiInfo clone(String dbg, String sr, VdiInfo vdiInfo) {
        return route(sr).vdi().clone(dbg, sr, vdiInfo);
    }

    @Override
    public long resize(String dbg, String sr, String vdi, long newSize) {
        return route(sr).vdi().resize(dbg, sr, vdi, newSize);
    }

    @Override
    public void destroy(String dbg, String sr, String vdi) {
        route(sr).vdi().destroy(dbg, sr, vdi);
    }

    @Override
    public VdiInfo stat(String dbg, String sr, String vdi) {
        return route(sr).vdi().stat(dbg, sr, vdi);
    }

    @Override
    public VdiInfo introduce(String dbg, String sr, String uuid, Map<String, String> smConfig, String location) {
        return route(sr).vdi().introduce(dbg, sr, uuid, smConfig, location);
    }

    @Override
    public void setPersistent(String dbg, String sr, String vdi, boolean persistent) {
        route(sr).vdi().setPersistent(dbg, sr, vdi, persistent);
    }

    @Override
    public void epochBegin(String dbg, String sr, String vdi, String vm, boolean persistent) {
        route(sr).vdi().epochBegin(dbg, sr, vdi, vm, persistent);
    }

    /** Deprecated attach: as attach2, then the backend turned into the old attach_info. */
    @Override
    public AttachInfo attach(String dbg, String dp, String sr, String vdi, boolean readWrite) {
        Backend backend = attach3(dbg, dp, sr, vdi, "0", readWrite);
        return legacyAttachInfo(backend);
    }

    static AttachInfo legacyAttachInfo(Backend backend) {
        Optional<String> params = backend.first(Implementation.XenDisk.class).map(x -> x.value().params())
                .or(() -> backend.first(Implementation.File.class).map(f -> f.value().path()))
                .or(() -> backend.first(Implementation.BlockDevice.class).map(b -> b.value().path()));
        if (params.isEmpty()) {
            throw new StorageException(new StorageError.BackendError("INTERNAL_ERROR",
                    List.of("No File, BlockDev, or XenDisk implementation in Datapath.attach response: "
                            + WireCodec.toJson(backend, Backend.class))));
        }
        return new AttachInfo(params.get(), true, "", Map.of());
    }

    @Override
    public Backend attach2(String dbg, String dp, String sr, String vdi, boolean readWrite) {
        return attach3(dbg, dp, sr, vdi, "0", readWrite);
    }

    /** Records DP_info first (so a crash mid-attach can still be torn down), then attaches. */
    @Override
    public Backend attach3(String dbg, String dp, String sr, String vdi, String vm, boolean readWrite) {
        StorageService backend = route(sr);
        dps.put(dp, new DpInfo(sr, vdi, vm, readWrite));
        return backend.vdi().attach3(dbg, dp, sr, vdi, vm, readWrite);
    }

    @Override
    @SuppressWarnings("deprecation")
    public void activate(String dbg, String dp, String sr, String vdi) {
        route(sr).vdi().activate(dbg, dp, sr, vdi);
    }

    /** Read-only attaches are activated read-only when the backend can do it. */
    @Override
    public void activate3(String dbg, String dp, String sr, String vdi, String vm) {
        DpInfo info = dps.get(dp).orElseThrow(() -> StorageException.internal("Failure(\"DP not found\")"));
        SrBinding b = binding(sr);
        StorageService backend = route(sr);
        if (!info.readWrite() && b.hasFeature("VDI_ACTIVATE_READONLY")) {
            backend.vdi().activateReadonly(dbg, dp, sr, vdi, vm);
        } else {
            backend.vdi().activate3(dbg, dp, sr, vdi, vm);
        }
    }

    @Override
    public void activateReadonly(String dbg, String dp, String sr, String vdi, String vm) {
        route(sr).vdi().activateReadonly(dbg, dp, sr, vdi, vm);
    }

    /** Routed by DP_info (the caller's sr/vdi/vm are ignored); an unknown dp is already deactivated. */
    @Override
    public void deactivate(String dbg, String dp, String sr, String vdi, String vm) {
        Optional<DpInfo> info = dps.get(dp);
        if (info.isEmpty()) {
            LOG.info("VDI.deactivate: dp {} is not associated with a locally attached VDI", dp);
            return;
        }
        DpInfo i = info.get();
        teardown("VDI.deactivate", dp, i.sr(), () -> route(i.sr()).vdi().deactivate(dbg, dp, i.sr(), i.vdi(), i.vm()));
        try {
            afterDeactivate.deactivated(dbg, i.sr(), i.vdi());
        } catch (RuntimeException e) {
            LOG.warn("VDI.deactivate of datapath {}: the post-deactivate hook failed: {}", dp, e.toString());
        }
    }

    @Override
    public void detach(String dbg, String dp, String sr, String vdi, String vm) {
        teardown("VDI.detach", dp, sr, () -> route(sr).vdi().detach(dbg, dp, sr, vdi, vm));
        dps.remove(dp);
    }

    /**
     * Runs a teardown step; once the SR itself is gone (not attached any more, or no longer registered), there
     * is nothing left to tear down: the step succeeds and the caller drops the DP_info record.
     */
    private void teardown(String what, String dp, String sr, Runnable step) {
        try {
            step.run();
        } catch (StorageException e) {
            if (e.error() instanceof StorageError.SrNotAttached || e.error() instanceof StorageError.NoStoragePluginForSr) {
                LOG.info("{} of datapath {}: SR {} is gone ({}), nothing to tear down", what, dp, sr, e.error());
                return;
            }
            throw e;
        }
    }

    @Override
    public void epochEnd(String dbg, String sr, String vdi, String vm) {
        route(sr).vdi().epochEnd(dbg, sr, vdi, vm);
    }

    @Override
    public String getUrl(String dbg, String sr, String vdi) {
        return route(sr).vdi().getUrl(dbg, sr, vdi);
    }

    @Override
    public List<VdiInfo> similarContent(String dbg, String sr, String vdi) {
        return route(sr).vdi().similarContent(dbg, sr, vdi);
    }

    @Override
    public VdiInfo getByName(String dbg, String sr, String name) {
        return route(sr).vdi().getByName(dbg, sr, name);
    }

    @Override
    public void setContentId(String dbg, String sr, String vdi, String contentId) {
        route(sr).vdi().setContentId(dbg, sr, vdi, contentId);
    }

    @Override
    public void compose(String dbg, String sr, String vdi1, String vdi2) {
        route(sr).vdi().compose(dbg, sr, vdi1, vdi2);
    }

    @Override
    public void addToSmConfig(String dbg, String sr, String vdi, String key, String value) {
        route(sr).vdi().addToSmConfig(dbg, sr, vdi, key, value);
    }

    @Override
    public void removeFromSmConfig(String dbg, String sr, String vdi, String key) {
        route(sr).vdi().removeFromSmConfig(dbg, sr, vdi, key);
    }

    @Override
    public void addTags(String dbg, String sr, String vdi, String key) {
        route(sr).vdi().addTags(dbg, sr, vdi, key);
    }

    @Override
    public void removeTags(String dbg, String sr, String vdi, String key) {
        route(sr).vdi().removeTags(dbg, sr, vdi, key);
    }

    @Override
    public void enableCbt(String dbg, String sr, String vdi) {
        route(sr).vdi().enableCbt(dbg, sr, vdi);
    }

    @Override
    public void disableCbt(String dbg, String sr, String vdi) {
        route(sr).vdi().disableCbt(dbg, sr, vdi);
    }

    @Override
    public void dataDestroy(String dbg, String sr, String vdi) {
        route(sr).vdi().dataDestroy(dbg, sr, vdi);
    }

    @Override
    public String listChangedBlocks(String dbg, String sr, String vdiFrom, String vdiTp) {
        return route(sr).vdi().listChangedBlocks(dbg, sr, vdiFrom, vdiTp);
    }

    @Override
    public void revert(String dbg, String sr, VdiInfo snapshotInfo) {
        route(sr).vdi().revert(dbg, sr, snapshotInfo);
    }

    // ---------------------------------------------------------------- get_by_name

    /**
     * {@code "sr/name"} asks that SR only; a bare name asks every registered SR and takes the first
     * success (in SR order), else the first failure. With no SR registered the answer is
     * {@code Vdi_does_not_exist} (upstream fails with {@code Failure "hd"}: a QUIRK fixed).
     */
    @Override
    public SrVdi getByName(String dbg, String name) {
        int slash = name.indexOf('/');
        List<String> pieces = new ArrayList<>();
        for (String p : slash < 0 ? new String[] {name} : new String[] {name.substring(0, slash),
                name.substring(slash + 1)}) {
            if (!p.isEmpty()) {
                pieces.add(p);
            }
        }
        if (pieces.isEmpty()) {
            throw new StorageException(new StorageError.VdiDoesNotExist(name));
        }
        if (pieces.size() == 2) {
            String sr = pieces.get(0);
            return new SrVdi(sr, route(sr).vdi().getByName(dbg, sr, pieces.get(1)));
        }
        String n = pieces.get(0);
        Map<String, CompletableFuture<Answer<VdiInfo>>> calls = new LinkedHashMap<>();
        for (SrBinding b : new TreeMap<>(registry.all()).values()) {
            calls.put(b.sr(), ask(b, "VDI.get_by_name", dbg, b.sr(), n));
        }
        RuntimeException firstFailure = null;
        for (Map.Entry<String, CompletableFuture<Answer<VdiInfo>>> e : calls.entrySet()) {
            Answer<VdiInfo> a = join(e.getValue());
            if (a.failure() == null) {
                return new SrVdi(e.getKey(), a.value());
            }
            if (firstFailure == null) {
                firstFailure = a.failure();
            }
        }
        throw firstFailure != null ? firstFailure : new StorageException(new StorageError.VdiDoesNotExist(name));
    }

    // ---------------------------------------------------------------- DP

    @Override
    public String create(String dbg, String id) {
        return id;
    }

    /** Routed by DP_info; an unknown dp is already destroyed. */
    @Override
    public void destroy(String dbg, String dp, boolean allowLeak) {
        Optional<DpInfo> info = dps.get(dp);
        if (info.isEmpty()) {
            LOG.info("DP.destroy: no DP_info for {}, nothing to do", dp);
            return;
        }
        DpInfo i = info.get();
        destroy2(dbg, dp, i.sr(), i.vdi(), i.vm(), allowLeak);
    }

    @Override
    public void destroy2(String dbg, String dp, String sr, String vdi, String vm, boolean allowLeak) {
        teardown("DP.destroy2", dp, sr, () -> route(sr).dp().destroy2(dbg, dp, sr, vdi, vm, allowLeak));
        dps.remove(dp);
    }

    @Override
    public Backend attachInfo(String dbg, String sr, String vdi, String dp, String vm) {
        return route(sr).dp().attachInfo(dbg, sr, vdi, dp, vm);
    }

    /**
     * The mux's DP_info table, then each backend's own text (upstream returns only the SMAPIv1 wrapper's,
     * which is one of them here).
     */
    @Override
    public String diagnostics() {
        StringBuilder out = new StringBuilder("The mux knows these datapaths (DP_info):\n");
        Map<String, DpInfo> all = dps.all();
        if (all.isEmpty()) {
            out.append("    (none)\n");
        }
        all.forEach((dp, i) -> out.append("    ").append(dp).append(": sr=").append(i.sr()).append(" vdi=")
                .append(i.vdi()).append(" vm=").append(i.vm()).append(i.readWrite() ? " RW" : " RO").append('\n'));
        Map<String, CompletableFuture<Answer<String>>> calls = new LinkedHashMap<>();
        queuesOfRegisteredSrs().forEach((q, b) -> calls.put(q, ask(b, "DP.diagnostics")));
        calls.forEach((q, c) -> {
            out.append("\nBackend ").append(q).append(":\n");
            Answer<String> a = join(c);
            if (a.skipped() != null) {
                out.append("Skipped: ").append(a.skipped()).append('\n');
            } else if (a.failure() != null) {
                out.append("Failure: ").append(a.failure().error()).append('\n');
            } else {
                out.append(a.value());
            }
        });
        return out.toString();
    }

    /** Routed by sr (upstream asks the SMAPIv1 wrapper directly; routing also covers SMAPIv3 backends). */
    @Override
    public DpStat statVdi(String dbg, String sr, String vdi) {
        return route(sr).dp().statVdi(dbg, sr, vdi);
    }

    // ---------------------------------------------------------------- DATA

    @Override
    public String copy(String dbg, String sr, String vdi, String vm, String url, String dest, boolean verifyDest) {
        DataApi d = dataCopy;
        if (d == null) {
            throw StorageException.unimplemented("DATA.copy");
        }
        return d.copy(dbg, sr, vdi, vm, url, dest, verifyDest);
    }

    @Override
    public MirrorOperation mirror(String dbg, String sr, String vdi, String imageFormat, String vm, String url) {
        return route(sr).data().mirror(dbg, sr, vdi, imageFormat, vm, url);
    }

    @Override
    public MirrorStatus stat(String dbg, String sr, String vdi, String vm, MirrorOperation operation) {
        return route(sr).data().stat(dbg, sr, vdi, vm, operation);
    }

    @Override
    public String importActivate(String dbg, String dp, String sr, String vdi, String vm) {
        return route(sr).data().importActivate(dbg, dp, sr, vdi, vm);
    }

    @Override
    public String getNbdServer(String dbg, String dp, String sr, String vdi, String vm) {
        return route(sr).data().getNbdServer(dbg, dp, sr, vdi, vm);
    }

    // ---------------------------------------------------------------- Policy

    @Override
    public String getBackendVm(String dbg, String vm, String sr, String vdi) {
        return binding(sr).backendDomain();
    }

    /**
     * {@code DATA.MIRROR.*} of a daemon without storage motion (SXM needs tapdisk and xapi's HTTP handlers):
     * no mirror exists, the send/receive calls are {@code Unimplemented}. (A separate class because
     * {@code DATA.MIRROR.list/stat} share their Java signatures with {@code SR.list/stat}.)
     */
    public static final class NoMirrors implements DataMirrorApi {
        /** No mirror is ever running here. */
        @Override
        public Map<String, MirrorInfo> list(String dbg) {
            return Map.of();
        }

        @Override
        public MirrorInfo stat(String dbg, String id) {
            throw new StorageException(new StorageError.DoesNotExist("mirror", id));
        }

        /** xen-api v25.11.0's call: no mirror exists here, so none can be stopped (upstream's answer). */
        @Override
        @SuppressWarnings("deprecation")
        public void stop(String dbg, String id) {
            throw new StorageException(new StorageError.DoesNotExist("mirror", id));
        }
    }
}
