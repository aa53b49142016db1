package org.xenstorage.smapiv1;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.exec.ChildProcessRunner;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.rpc.JsonRpc;
import org.xenstorage.idl.rpc.StorageDispatcher;
import org.xenstorage.logging.CallContext;
import org.xenstorage.messageswitch.client.InProcessQueues;
import org.xenstorage.messageswitch.client.SwitchAddress;
import org.xenstorage.messageswitch.client.SwitchQueueServer;
import org.xenstorage.smapiv1.catalogue.Catalogue;
import org.xenstorage.smapiv1.catalogue.Inventory;
import org.xenstorage.smapiv1.catalogue.RemoteXenApi;
import org.xenstorage.smapiv1.catalogue.XenApi;
import org.xenstorage.smapiv1.catalogue.XenApiFailure;
import org.xenstorage.smapiv1.catalogue.XenApiSocketServer;
import org.xenstorage.smapiv1.driver.DriverDiscovery;
import org.xenstorage.smapiv1.driver.SmDriver;
import org.xenstorage.smapiv1.exec.DriverExec;
import org.xenstorage.smapiv1.translation.DriverSessions;
import org.xenstorage.smapiv1.translation.Smapiv1Translation;
import org.xenstorage.smapiv1.wrapper.Wrapper;
import org.xenstorage.statefile.BootScope;
import org.xenstorage.idl.types.RoRw;
import org.xenstorage.threads.BurstPools;

/**
 * The SMAPIv1 backend: discovers SM drivers and serves {@code <prefix>.<type>} for each.
 *
 * <p>Per type: a {@link Smapiv1Translation} (SMAPIv2 → driver execs) under the state {@link Wrapper}
 * (automaton, datapaths, locking, persisted state with write-ahead intents), dispatched by a {@link StorageDispatcher} on a bounded executor named for
 * driver execs, behind one {@link SwitchQueueServer}. In embedded mode (no {@code xapiSocket}) the
 * backend also serves the XenAPI subset drivers call back, from a persisted {@link Catalogue}, on a
 * private socket under the state directory; in host mode drivers call the real xapi.
 */
public final class Smapiv1Backend implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Smapiv1Backend.class);

    /**
     * Tuning beyond {@link Smapiv1Config}.
     *
     * @param allowedTypes       lower-case driver prefixes to load, or {@code "*"} (xapi's {@code sm-plugins})
     * @param driverEnvironment  extra variables for every driver exec (e.g. {@code PYTHONPATH} for a test peer)
     * @param maxStdoutBytes     a driver printing more is killed and its call fails
     * @param preferNbdAttach    xapi's {@code prefer_nbd_attach}: attach answers the NBD export first
     * @param inventoryFile      embedded mode: the xensource-inventory file naming this host and its control
     *                           domain (adopted when it exists, written when not); empty: {@code <stateDir>/xensource-inventory}
     * @param pool               embedded mode: the pool the catalogue describes (host mode: xapi's pool)
     */
    public record Options(Set<String> allowedTypes, Map<String, String> driverEnvironment, int maxStdoutBytes,
                          boolean killOnTimeout, boolean preferNbdAttach, Optional<Path> inventoryFile,
                          Catalogue.Pool pool) {
        public Options {
            allowedTypes = Set.copyOf(allowedTypes);
            driverEnvironment = Map.copyOf(driverEnvironment);
            Objects.requireNonNull(inventoryFile, "inventoryFile");
            Objects.requireNonNull(pool, "pool");
        }

        public static Options defaults() {
            return new Options(Set.of("*"), Map.of(), 4 << 20, true, false, Optional.empty(), Catalogue.Pool.SINGLE_HOST);
        }

        public Options withDriverEnvironment(Map<String, String> env) {
            return new Options(allowedTypes, env, maxStdoutBytes, killOnTimeout, preferNbdAttach, inventoryFile, pool);
        }

        public Options withMaxStdoutBytes(int max) {
            return new Options(allowedTypes, driverEnvironment, max, killOnTimeout, preferNbdAttach, inventoryFile, pool);
        }

        /** Whether a driver past the driver timeout is killed (true) or only reported (upstream: never killed). */
        public Options withKillOnTimeout(boolean kill) {
            return new Options(allowedTypes, driverEnvironment, maxStdoutBytes, kill, preferNbdAttach, inventoryFile, pool);
        }

        /** xapi's {@code prefer_nbd_attach} (default false). */
        public Options withPreferNbdAttach(boolean prefer) {
            return new Options(allowedTypes, driverEnvironment, maxStdoutBytes, killOnTimeout, prefer, inventoryFile, pool);
        }

        /** Where the embedded mode's inventory file is (default {@code <stateDir>/xensource-inventory}). */
        public Options withInventoryFile(Path file) {
            return new Options(allowedTypes, driverEnvironment, maxStdoutBytes, killOnTimeout, preferNbdAttach,
                    Optional.of(file), pool);
        }

        /** Embedded mode: which pool the catalogue describes (who the master is, which SR types are shared). */
        public Options withPool(Catalogue.Pool p) {
            return new Options(allowedTypes, driverEnvironment, maxStdoutBytes, killOnTimeout, preferNbdAttach,
                    inventoryFile, p);
        }
    }

    /** One served type. */
    private record Served(SmDriver driver, Smapiv1Translation translation, Wrapper wrapper, StorageService service,
                          StorageDispatcher dispatcher, SwitchQueueServer queue) {
    }

    private final Smapiv1Config config;
    private final SwitchAddress switchAddress;
    private final ChildProcessRunner runner = new ChildProcessRunner();
    private final ExecutorService execs;
    private final Optional<Catalogue> catalogue;
    private final Optional<XenApiSocketServer> callbackServer;
    private final XenApi api;
    private final String internalSession;
    private final DriverSessions sessions;
    private final String hostRef;
    private final String hostUuid;
    private final DriverExec exec;
    private final DriverDiscovery discovery;
    private final boolean preferNbdAttach;
    private final Optional<Path> inventory;
    private final String bootId;
    private final Map<String, Served> served = new ConcurrentHashMap<>();
    // guarded by 'this': the in-process path to each served type's queue, once a caller in this JVM asked for it
    private InProcessQueues inProcess;
    private final Map<String, InProcessQueues.Registration> inProcessServed = new java.util.HashMap<>();
    private volatile boolean stopped;

    private Smapiv1Backend(Smapiv1Config config, SwitchAddress switchAddress, Options options) throws IOException {
        this.config = Objects.requireNonNull(config, "config");
        this.switchAddress = switchAddress;
        // one thread per request, as upstream: a call waiting for an SR's or a VDI's lock, or for a hung driver,
        // holds only its own thread, never a slot other SRs need (the bound is per SR, in DriverExec, and the
        // queue's in-flight window caps the threads); idle ones exit after BurstPools.KEEP_ALIVE
        this.execs = BurstPools.unbounded(BurstPools.KEEP_ALIVE, BurstPools.daemonThreads("sm-request"));
        Map<String, String> env = new LinkedHashMap<>();
        if (config.xapiSocket().isPresent()) {
            Path xapi = config.xapiSocket().get();
            this.catalogue = Optional.empty();
            this.callbackServer = Optional.empty();
            this.api = new RemoteXenApi(xapi);
            this.internalSession = login(api);
            this.sessions = new HostSessions(api);
            this.hostRef = (String) hostCall("session.get_this_host", internalSession, internalSession);
            this.hostUuid = (String) hostCall("host.get_uuid", internalSession, hostRef);
            env.put("XAPI_LOCAL_SOCKET", xapi.toString());
            this.inventory = Optional.empty();
        } else {
            Catalogue c = Catalogue.open(config.stateDir().resolve("catalogue.json"));
            c.configurePool(options.pool());
            this.catalogue = Optional.of(c);
            this.callbackServer = Optional.of(XenApiSocketServer.start(
                    config.stateDir().resolve("xenapi").resolve("xapi.sock"), c,
                    Math.max(8, config.maxConcurrent() * 2)));
            this.api = c;
            this.internalSession = c.newInternalSession();
            this.sessions = new DriverSessions() {
                @Override
                public String open(String srRef) {
                    return c.newDriverSession(srRef);
                }

                @Override
                public void close(String session) {
                    c.destroySession(session);
                }
            };
            Path inv = options.inventoryFile().orElse(config.stateDir().resolve("xensource-inventory"));
            Inventory.reconcile(inv, c);
            this.inventory = Optional.of(inv);
            this.hostRef = c.hostRef();
            this.hostUuid = c.hostUuid();
            env.put("XAPI_LOCAL_SOCKET", callbackServer.get().socket().toString());
            env.put(Inventory.ENV, inv.toString());
        }
        env.putAll(options.driverEnvironment());
        this.preferNbdAttach = options.preferNbdAttach();
        this.exec = new DriverExec(runner, config.driverTimeout(), env, options.maxStdoutBytes(), options.killOnTimeout(),
                Math.max(1, config.maxConcurrent()));
        this.bootId = BootScope.read(config.bootIdFile());
        this.discovery = new DriverDiscovery(config.smDir(), options.allowedTypes(), exec, hostRef);
    }

    /** Discovers drivers, recovers persisted state, and serves one queue per type on the switch. */
    public static Smapiv1Backend start(Smapiv1Config config, SwitchAddress switchAddress) {
        return start(config, switchAddress, Options.defaults());
    }

    /**
     * As {@link #start(Smapiv1Config, SwitchAddress)} with options; a null {@code switchAddress}
     * serves no queues (the services are reachable through {@link #serviceFor} and {@link #dispatch}).
     */
    public static Smapiv1Backend start(Smapiv1Config config, SwitchAddress switchAddress, Options options) {
        try {
            Smapiv1Backend b = new Smapiv1Backend(config, switchAddress, options);
            b.rescan();
            return b;
        } catch (IOException e) {
            throw new UncheckedIOException("SMAPIv1 backend cannot start", e);
        }
    }

    /** The SR types discovered (lower-case driver prefixes). */
    public Set<String> types() {
        return new TreeSet<>(served.keySet());
    }

    /** The in-process service behind one type's queue (what the queue server dispatches to). */
    public StorageService serviceFor(String type) {
        return servedOrThrow(type).service();
    }

    /** The translation for one type (the layer the state wrapper drives). */
    public Smapiv1Translation translationFor(String type) {
        return servedOrThrow(type).translation();
    }

    /** The driver behind one type. */
    public SmDriver driverFor(String type) {
        return servedOrThrow(type).driver();
    }

    /** Dispatches one JSON-RPC request to a type's service on the driver-exec executor, as its queue does. */
    public CompletableFuture<String> dispatch(String type, String request) {
        return handler(queueOf(type), servedOrThrow(type).dispatcher()).apply(request);
    }

    /** The embedded catalogue (empty in host mode). */
    public Optional<Catalogue> catalogue() {
        return catalogue;
    }

    /**
     * The address of the host with this uuid, from XenAPI (the catalogue or xapi); empty when no host has it
     * (the mux redirects a snapshot that a driver says is active on another host there).
     */
    public Optional<String> hostAddress(String hostUuid) {
        try {
            Object ref = api.call("host.get_by_uuid", List.of(internalSession, hostUuid));
            return Optional.of(String.valueOf(api.call("host.get_address", List.of(internalSession, ref))));
        } catch (XenApiFailure f) {
            LOG.info("no address for host {}: {}", hostUuid, f.description());
            return Optional.empty();
        }
    }

    /** The XenAPI socket drivers call back (embedded mode). */
    public Optional<Path> xenApiSocket() {
        return callbackServer.map(XenApiSocketServer::socket);
    }

    /** Embedded mode: the inventory file naming this host and its control domain (empty in host mode). */
    public Optional<Path> inventoryFile() {
        return inventory;
    }

    /** The environment every driver exec gets. */
    public Map<String, String> driverEnvironment() {
        return exec.environment();
    }

    private Served servedOrThrow(String type) {
        Served s = served.get(type);
        if (s == null) {
            throw new IllegalArgumentException("no SM driver serves type " + type + " (have " + types() + ")");
        }
        return s;
    }

    /** Rescans the driver directory, serving new types and dropping removed ones. */
    public synchronized void rescan() {
        if (stopped) {
            return;
        }
        DriverDiscovery.Scan scan = discovery.scan();
        for (String type : List.copyOf(served.keySet())) {
            SmDriver now = scan.drivers().get(type);
            if (now == null || !now.equals(served.get(type).driver())) {
                Served gone = served.remove(type);
                closeInProcess(type);
                if (gone.queue() != null) {
                    gone.queue().shutdown(Duration.ofSeconds(5));
                }
                gone.translation().close();
                LOG.info("SM driver type {} {}", type, now == null ? "removed" : "changed");
            }
        }
        scan.drivers().forEach((type, driver) -> {
            if (!served.containsKey(type)) {
                served.put(type, serve(driver));
                LOG.info("serving SM driver type {} ({})", type, driver.executable());
            }
        });
    }

    private Served serve(SmDriver driver) {
        catalogue.ifPresent(c -> c.putSm(driver.type(), smRecord(driver)));
        Smapiv1Translation translation = new Smapiv1Translation(driver, exec, api, internalSession, sessions,
                catalogue, hostRef, hostUuid);
        translation.preferNbdAttach(preferNbdAttach);
        // the state layer above the stateless translation: automaton, datapaths, locks, write-ahead state
        Path stateFile = config.runDir().resolve("datapaths-" + driver.type() + ".db");
        try {
            // what another boot attached is not attached any more: SR.attach must run sr_attach again
            BootScope.adopt(stateFile, bootId);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot check the boot of " + stateFile, e);
        }
        Wrapper wrapper = new Wrapper(StorageService.of(translation), stateFile);
        translation.useModeSource((sr, vdi) -> wrapper.attachedMode(sr, vdi).map(m -> m == RoRw.RW));
        StorageService ws = wrapper.service();
        StorageService service = new StorageService(ws.query(), new SharedDp(driver.type(), wrapper), ws.sr(),
                ws.vdi(), ws.getByName(), ws.data(), ws.dataMirror(), ws.policy(), ws.task(), ws.updates());
        StorageDispatcher dispatcher = new StorageDispatcher(service);
        SwitchQueueServer queue = null;
        if (switchAddress != null) {
            queue = SwitchQueueServer.start(switchAddress, queueOf(driver.type()), requestWindow(config.maxConcurrent()),
                    handler(queueOf(driver.type()), dispatcher));
        }
        Served s = new Served(driver, translation, wrapper, service, dispatcher, queue);
        if (queue != null) {
            registerInProcess(driver.type(), s);
        }
        return s;
    }

    private String queueOf(String type) {
        return config.queuePrefix() + "." + type;
    }

    /**
     * What a type's queue does with a request text: dispatch it on the driver exec pool, as the request's call
     * (its {@code dbg} and this queue in the MDC) on every thread that works on it. The handler may run on the
     * caller's thread (in-process), whose own context it leaves as it found it.
     */
    private Function<String, CompletableFuture<String>> handler(String queue, StorageDispatcher dispatcher) {
        return request -> {
            JsonRpc.Summary call = JsonRpc.summarise(request);
            try (CallContext.Scope scope = CallContext.enter(queue, call.dbg())) {
                LOG.debug("call {}", CallContext.sanitise(call.describe(), 600));
                long start = System.nanoTime();
                CompletableFuture<String> reply = CompletableFuture.supplyAsync(
                        CallContext.wrap(() -> dispatcher.dispatch(request)), execs).thenCompose(f -> f);
                if (LOG.isDebugEnabled()) {
                    reply = CallContext.whenDone(reply, (text, failure) -> LOG.debug("reply {} in {} ms: {}",
                            CallContext.sanitise(call.method()), (System.nanoTime() - start) / 1_000_000,
                            failure != null ? "failed: " + failure : JsonRpc.outcome(text, 500)));
                }
                return reply;
            }
        };
    }

    /**
     * Also serves every type's queue (now and as types appear) to callers in this JVM through {@code queues}:
     * the same handler and window as on the switch, without the switch round trip. The queues stay served on the
     * switch for everyone else.
     */
    public synchronized void serveInProcess(InProcessQueues queues) {
        if (stopped) {
            return;
        }
        inProcess = Objects.requireNonNull(queues, "queues");
        served.forEach((type, s) -> {
            if (s.queue() != null) {
                registerInProcess(type, s);
            }
        });
    }

    private synchronized void registerInProcess(String type, Served s) {
        if (inProcess == null || stopped) {
            return;
        }
        closeInProcess(type);
        inProcessServed.put(type, inProcess.register(queueOf(type), requestWindow(config.maxConcurrent()),
                handler(queueOf(type), s.dispatcher())));
    }

    private synchronized void closeInProcess(String type) {
        InProcessQueues.Registration r = inProcessServed.remove(type);
        if (r != null) {
            r.close();
        }
    }

    /**
     * One type's DP module. Upstream runs every SMAPIv1 SR type behind one wrapper, so {@code DP.destroy2}
     * (which the mux routes by the caller's sr) tears the dp down on every SMAPIv1 SR; with a wrapper per
     * type, the call goes to this type's wrapper first, then to every other type's.
     */
    private final class SharedDp implements org.xenstorage.idl.api.DpApi {
        private final String type;
        private final Wrapper own;

        SharedDp(String type, Wrapper own) {
            this.type = type;
            this.own = own;
        }

        @Override
        public String create(String dbg, String id) {
            return own.create(dbg, id);
        }

        @Override
        public void destroy(String dbg, String dp, boolean allowLeak) {
            own.destroy(dbg, dp, allowLeak);
        }

        @Override
        public void destroy2(String dbg, String dp, String sr, String vdi, String vm, boolean allowLeak) {
            RuntimeException first = null;
            try {
                own.destroy2(dbg, dp, sr, vdi, vm, allowLeak);
            } catch (RuntimeException e) {
                first = e;
            }
            for (Map.Entry<String, Served> e : served.entrySet()) {
                if (e.getKey().equals(type)) {
                    continue;
                }
                try {
                    e.getValue().wrapper().destroy2(dbg, dp, sr, vdi, vm, allowLeak);
                } catch (RuntimeException ex) {
                    LOG.warn("DP.destroy2 {} on SR type {}: {}", dp, e.getKey(), ex.getMessage());
                    if (first == null) {
                        first = ex;
                    }
                }
            }
            if (first != null) {
                throw first;
            }
        }

        @Override
        public org.xenstorage.idl.types.Backend attachInfo(String dbg, String sr, String vdi, String dp, String vm) {
            return own.attachInfo(dbg, sr, vdi, dp, vm);
        }

        @Override
        public String diagnostics() {
            return own.diagnostics();
        }

        @Override
        public org.xenstorage.idl.types.DpStat statVdi(String dbg, String sr, String vdi) {
            return own.statVdi(dbg, sr, vdi);
        }
    }

    /**
     * Requests one type's queue takes at once: far more than the driver execs one SR may run, so calls queued
     * behind a hung SR cannot keep another SR's calls on the switch.
     */
    static int requestWindow(int perSrExecs) {
        return Math.max(256, 16 * Math.max(1, perSrExecs));
    }

    private static Map<String, Object> smRecord(SmDriver d) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name_label", d.info().name());
        m.put("name_description", d.info().description());
        m.put("vendor", d.info().vendor());
        m.put("copyright", d.info().copyright());
        m.put("version", d.info().driverVersion());
        m.put("required_api_version", d.info().requiredApiVersion());
        m.put("capabilities", d.info().features().stream().map(f -> f.name()).toList());
        Map<String, String> features = new LinkedHashMap<>();
        d.info().features().forEach(f -> features.put(f.name(), Long.toString(f.version())));
        m.put("features", features);
        m.put("configuration", d.info().configuration());
        m.put("driver_filename", d.executable().toString());
        m.put("required_cluster_stack", List.of());
        m.put("supported_image_formats", d.info().supportedImageFormats());
        m.put("other_config", Map.of());
        return m;
    }

    /** Stops taking calls, lets in-flight ones finish for up to {@code grace}, then closes. */
    public void shutdown(Duration grace) {
        synchronized (this) {
            if (stopped) {
                return;
            }
            stopped = true;
            // in-process callers go to the switch from now on, as the queue servers stop taking calls
            List.copyOf(inProcessServed.keySet()).forEach(this::closeInProcess);
        }
        served.values().forEach(s -> {
            if (s.queue() != null) {
                s.queue().shutdown(grace);
            }
        });
        execs.shutdown();
        try {
            if (!execs.awaitTermination(grace.toMillis(), TimeUnit.MILLISECONDS)) {
                LOG.warn("driver execs still running after {}: abandoning them", grace);
                execs.shutdownNow();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            execs.shutdownNow();
        }
        served.values().forEach(s -> s.translation().close());
        callbackServer.ifPresent(XenApiSocketServer::close);
        catalogue.ifPresent(Catalogue::close);
        if (config.xapiSocket().isPresent()) {
            sessions.close(internalSession);
        }
        runner.close();
        served.clear();
    }

    @Override
    public void close() {
        shutdown(Duration.ofSeconds(10));
    }

    // ---- host mode -------------------------------------------------------------------------------

    private static String login(XenApi api) {
        try {
            return (String) api.call("session.login_with_password",
                    List.of("root", "", "1.0", "xenstorage-smapiv1"));
        } catch (XenApiFailure f) {
            throw new IllegalStateException("cannot log in to xapi: " + f.description(), f);
        }
    }

    private Object hostCall(String method, Object... args) {
        try {
            return api.call(method, List.of(args));
        } catch (XenApiFailure f) {
            throw new IllegalStateException(method + " failed: " + f.description(), f);
        }
    }

    /** Host mode: a session per exec, logged in on xapi's local socket and tagged with the SR. */
    private static final class HostSessions implements DriverSessions {
        private final XenApi api;

        HostSessions(XenApi api) {
            this.api = api;
        }

        @Override
        public String open(String srRef) {
            String s = login(api);
            if (srRef != null) {
                try {
                    api.call("session.add_to_other_config", List.of(s, s, "_sm_session", srRef));
                } catch (XenApiFailure f) {
                    LOG.debug("cannot tag session with _sm_session: {}", f.description());
                }
            }
            return s;
        }

        @Override
        public void close(String session) {
            try {
                api.call("session.logout", List.of(session));
            } catch (XenApiFailure f) {
                LOG.debug("logout failed: {}", f.description());
            }
        }
    }
}
