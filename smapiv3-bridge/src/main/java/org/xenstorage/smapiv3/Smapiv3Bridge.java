package org.xenstorage.smapiv3;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.exec.ChildProcessRunner;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.rpc.JsonRpc;
import org.xenstorage.idl.rpc.StorageDispatcher;
import org.xenstorage.logging.CallContext;
import org.xenstorage.messageswitch.client.InProcessQueues;
import org.xenstorage.messageswitch.client.SwitchAddress;
import org.xenstorage.messageswitch.client.SwitchQueueServer;
import org.xenstorage.smapiv3.discovery.DatapathRegistry;
import org.xenstorage.smapiv3.discovery.PluginNames;
import org.xenstorage.smapiv3.discovery.PluginWatcher;
import org.xenstorage.smapiv3.script.ScriptExec;
import org.xenstorage.smapiv3.state.AttachedSrTable;
import org.xenstorage.smapiv3.state.HolderTable;
import org.xenstorage.smapiv3.translation.VolumePluginService;
import org.xenstorage.statefile.BootScope;
import org.xenstorage.threads.BurstPools;

/**
 * The SMAPIv3 bridge (xapi-storage-script's job): watches the plugin root and serves
 * {@code <prefix>.<plugin>} for every volume plugin, translating each SMAPIv2 call into SMAPIv3
 * script runs. Requests run on one bounded pool ({@code maxConcurrent} threads), so at most that
 * many scripts run at once; the attached-SR table is reloaded from {@code <stateDir>/state.db} unless it
 * was written in another boot ({@link BootScope}).
 */
public final class Smapiv3Bridge implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Smapiv3Bridge.class);
    /** The state file's name inside the state directory (upstream's name, same format). */
    public static final String STATE_FILE = "state.db";
    private static final int MAX_STDOUT = 16 << 20;

    private final Smapiv3Config config;
    private final SwitchAddress switchAddress;
    private final ChildProcessRunner runner = new ChildProcessRunner();
    private final ScriptExec exec;
    private final AttachedSrTable srs;
    private final HolderTable holders;
    private final DatapathRegistry datapaths;
    private final ExecutorService calls;
    private final Map<String, Served> served = new ConcurrentHashMap<>();
    private final Map<String, Semaphore> srCalls = new ConcurrentHashMap<>();
    private Lifecycle lifecycle;
    private volatile PluginWatcher watcher;
    private volatile boolean closed;

    // guarded by itself: the in-process path to each plugin's queue, once a caller in this JVM asked for it
    private final Map<String, InProcessQueues.Registration> inProcessServed = new java.util.HashMap<>();
    private InProcessQueues inProcess; // guarded by inProcessServed

    private record Served(VolumePluginService service, StorageDispatcher dispatcher, SwitchQueueServer server) {
    }

    /**
     * Also serves every plugin's queue (now and as plugins appear) to callers in this JVM through {@code queues}:
     * the same handler and window as on the switch, without the switch round trip. The queues stay served on the
     * switch for everyone else; a plugin whose queue is not on the switch yet is not served in-process either.
     */
    public void serveInProcess(InProcessQueues queues) {
        synchronized (inProcessServed) {
            if (closed) {
                return;
            }
            inProcess = java.util.Objects.requireNonNull(queues, "queues");
        }
        served.forEach((plugin, s) -> {
            if (s.server() != null) {
                registerInProcess(plugin, s.dispatcher());
            }
        });
    }

    private void registerInProcess(String plugin, StorageDispatcher dispatcher) {
        synchronized (inProcessServed) {
            if (inProcess == null || closed) {
                return;
            }
            closeInProcess(plugin);
            inProcessServed.put(plugin, inProcess.register(PluginNames.queue(config.queuePrefix(), plugin),
                    requestWindow(config.maxConcurrent()), request -> handle(plugin, dispatcher, request)));
        }
    }

    private void closeInProcess(String plugin) {
        synchronized (inProcessServed) {
            InProcessQueues.Registration r = inProcessServed.remove(plugin);
            if (r != null) {
                r.close();
            }
        }
    }

    private Smapiv3Bridge(Smapiv3Config config, SwitchAddress switchAddress, Map<String, String> environment)
            throws IOException {
        this.config = config;
        this.switchAddress = switchAddress;
        this.exec = new ScriptExec(runner, environment, config.scriptTimeout(), MAX_STDOUT, config.pluginRoot(),
                config.killOnTimeout());
        // what another boot attached is not attached any more: the next SR.attach and VDI.attach3 run the plugins
        String bootId = BootScope.read(config.bootIdFile());
        BootScope.adopt(config.stateDir().resolve(STATE_FILE), bootId);
        BootScope.adopt(config.stateDir().resolve(HolderTable.FILE), bootId);
        this.srs = AttachedSrTable.load(config.stateDir().resolve(STATE_FILE));
        this.holders = HolderTable.load(config.stateDir().resolve(HolderTable.FILE));
        this.datapaths = new DatapathRegistry(exec);
        // one thread per request, as upstream: a call behind a hung script of one SR holds only its own thread;
        // the bound on scripts is per SR (srCalls), and each queue's in-flight window caps the threads; idle ones
        // exit after BurstPools.KEEP_ALIVE
        this.calls = BurstPools.unbounded(BurstPools.KEEP_ALIVE, BurstPools.daemonThreads("smapiv3-call"));
    }

    /** Discovers plugins, reloads the attached-SR table, starts watching and serving. */
    public static Smapiv3Bridge start(Smapiv3Config config, SwitchAddress switchAddress) {
        return start(config, switchAddress, System.getenv());
    }

    /**
     * As {@link #start(Smapiv3Config, SwitchAddress)}, with the environment the scripts get (upstream
     * passes the daemon's own). A null {@code switchAddress} serves in-process only ({@link #dispatch}).
     *
     * @throws UncheckedIOException when the root is unusable or the state file cannot be read
     */
    public static Smapiv3Bridge start(Smapiv3Config config, SwitchAddress switchAddress,
                                      Map<String, String> environment) {
        Objects.requireNonNull(config, "config");
        Path root = config.pluginRoot();
        if (!Files.isDirectory(root) || !Files.isExecutable(root)) {
            throw new UncheckedIOException(new IOException("plugin root " + root
                    + " is not an accessible directory; set --root to the directory holding volume/ and datapath/"));
        }
        try {
            Files.createDirectories(root.resolve("volume"));
            Files.createDirectories(root.resolve("datapath"));
            Smapiv3Bridge bridge = new Smapiv3Bridge(config, switchAddress, environment);
            bridge.lifecycle = bridge.new Lifecycle();
            bridge.watcher = PluginWatcher.start(root, bridge.lifecycle, Duration.ofSeconds(1));
            LOG.info("SMAPIv3 bridge serving {} from {}", bridge.plugins(), root);
            return bridge;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Waits until every volume plugin found so far has its queue served on the switch, retrying a queue
     * whose first start failed (a switch slow to answer its login on a loaded machine) instead of every few
     * seconds: the daemon says it is ready only after this, so a call routed to a plugin finds its queue.
     *
     * @return the plugins whose queue is still not served after {@code max} (the watcher keeps retrying them)
     */
    public Set<String> awaitServed(Duration max) throws InterruptedException {
        long deadline = System.nanoTime() + max.toNanos();
        while (true) {
            Set<String> unserved = lifecycle.serveUnserved();
            if (unserved.isEmpty() || System.nanoTime() - deadline > 0) {
                return unserved;
            }
            Thread.sleep(100);
        }
    }

    /** The volume plugins currently served. */
    public Set<String> plugins() {
        return new TreeSet<>(served.keySet());
    }

    /** The message-switch queues currently served ({@code <queuePrefix>.<plugin>}). */
    public Set<String> queues() {
        Set<String> out = new TreeSet<>();
        served.keySet().forEach(p -> out.add(PluginNames.queue(config.queuePrefix(), p)));
        return out;
    }

    /** The datapath plugins (URI schemes) currently registered. */
    public Set<String> datapaths() {
        return datapaths.schemes();
    }

    /** The in-process service behind one plugin's queue. */
    public StorageService serviceFor(String plugin) {
        return servedOrThrow(plugin).service().served();
    }

    /**
     * Handles one SMAPIv2 JSON-RPC request for {@code plugin} on the bridge's pool, exactly as a request
     * arriving on its queue; the future always completes with a JSON-RPC reply.
     */
    public CompletableFuture<String> dispatch(String plugin, String request) {
        Served s = served.get(plugin);
        if (s == null) {
            return CompletableFuture.completedFuture(JsonRpc.failure(
                    new StorageError.NoStoragePluginForSr(plugin), com.fasterxml.jackson.databind.node.IntNode.valueOf(0)));
        }
        return handle(plugin, s.dispatcher(), request);
    }

    /** The attached-SR table (for diagnostics and tests). */
    public AttachedSrTable attachedSrs() {
        return srs;
    }

    /**
     * Runs one request on a thread of its own, once its SR has a free slot ({@code maxConcurrent} per SR;
     * calls naming no SR share one bound per plugin), so a hung SR never holds what another SR needs.
     */
    private CompletableFuture<String> handle(String plugin, StorageDispatcher dispatcher, String request) {
        JsonRpc.Summary call = JsonRpc.summarise(request);
        // the request's call (its dbg, this queue) on every thread working on it; the handler may run on the
        // caller's own thread (in-process), whose context the scope gives back
        try (CallContext.Scope scope = CallContext.enter(PluginNames.queue(config.queuePrefix(), plugin), call.dbg())) {
            LOG.debug("call {}", CallContext.sanitise(call.describe(), 600));
            long start = System.nanoTime();
            String key = call.sr().isEmpty() ? "plugin " + plugin : "sr " + call.sr();
            Semaphore slots = srCalls.computeIfAbsent(key, k -> new Semaphore(config.maxConcurrent(), true));
            CompletableFuture<String> reply = CompletableFuture.supplyAsync(CallContext.wrap(() -> {
                slots.acquireUninterruptibly();
                try {
                    return dispatcher.dispatch(request).join();
                } finally {
                    slots.release();
                }
            }), calls);
            if (LOG.isDebugEnabled()) {
                reply = CallContext.whenDone(reply, (text, failure) -> LOG.debug("reply {} in {} ms: {}",
                        CallContext.sanitise(call.method()), (System.nanoTime() - start) / 1_000_000,
                        failure != null ? "failed: " + failure : JsonRpc.outcome(text, 500)));
            }
            return reply;
        } catch (java.util.concurrent.RejectedExecutionException e) {
            return CompletableFuture.completedFuture(JsonRpc.failure(
                    new StorageError.InternalError("SMAPIv3 bridge is shutting down"),
                    com.fasterxml.jackson.databind.node.IntNode.valueOf(0)));
        }
    }

    /** Requests one plugin's queue takes at once: far more than the scripts one SR may run. */
    static int requestWindow(int perSrCalls) {
        return Math.max(256, 16 * Math.max(1, perSrCalls));
    }

    private Served servedOrThrow(String plugin) {
        Served s = served.get(plugin);
        if (s == null) {
            throw new IllegalArgumentException("no volume plugin " + plugin + " (serving " + plugins() + ")");
        }
        return s;
    }

    /** Reacts to plugin directory changes. */
    private final class Lifecycle implements PluginWatcher.Listener {
        private long lastRetryNanos = System.nanoTime();

        @Override
        public synchronized void volumePluginAdded(String plugin, Path dir) {
            if (closed) {
                return;
            }
            VolumePluginService service = new VolumePluginService(plugin, dir, exec, srs, holders, datapaths);
            StorageDispatcher dispatcher = new StorageDispatcher(service.served());
            SwitchQueueServer server = serve(plugin, dispatcher);
            served.put(plugin, new Served(service, dispatcher, server));
            if (server != null) {
                registerInProcess(plugin, dispatcher);
            }
            LOG.info("serving volume plugin {} ({}) on {}", plugin, dir, PluginNames.queue(config.queuePrefix(), plugin));
        }

        /** Starts the plugin's queue server, or null (logged) when the switch cannot be reached now. */
        private SwitchQueueServer serve(String plugin, StorageDispatcher dispatcher) {
            if (switchAddress == null) {
                return null;
            }
            String queue = PluginNames.queue(config.queuePrefix(), plugin);
            try {
                return SwitchQueueServer.start(switchAddress, queue, requestWindow(config.maxConcurrent()),
                        request -> handle(plugin, dispatcher, request));
            } catch (RuntimeException e) {
                LOG.error("cannot serve queue {} on {} (will retry): {}", queue, switchAddress, e.toString());
                return null;
            }
        }

        @Override
        public void rescanned() {
            // a switch that was down when a plugin appeared: try again every few seconds
            if (switchAddress == null || closed || System.nanoTime() - lastRetryNanos < 5_000_000_000L) {
                return;
            }
            lastRetryNanos = System.nanoTime();
            serveUnserved();
        }

        /** Starts the queue servers that are missing; returns the plugins still without one. */
        synchronized Set<String> serveUnserved() {
            Set<String> unserved = new TreeSet<>();
            if (switchAddress == null || closed) {
                return unserved;
            }
            for (Map.Entry<String, Served> e : served.entrySet()) {
                if (e.getValue().server() == null) {
                    SwitchQueueServer server = serve(e.getKey(), e.getValue().dispatcher());
                    if (server != null) {
                        served.put(e.getKey(), new Served(e.getValue().service(), e.getValue().dispatcher(), server));
                        registerInProcess(e.getKey(), e.getValue().dispatcher());
                    } else {
                        unserved.add(e.getKey());
                    }
                }
            }
            return unserved;
        }

        @Override
        public synchronized void volumePluginRemoved(String plugin) {
            closeInProcess(plugin);
            Served s = served.remove(plugin);
            if (s != null) {
                exec.forget(s.service().dir());
                if (s.server() != null) {
                    s.server().shutdown(Duration.ofSeconds(5));
                }
                LOG.info("stopped serving volume plugin {}", plugin);
            }
        }

        @Override
        public void datapathChanged(String scheme, Path dir) {
            if (!closed) {
                datapaths.register(scheme, dir);
            }
        }

        @Override
        public void datapathRemoved(String scheme) {
            datapaths.unregister(scheme);
        }
    }

    /** Stops taking calls, lets in-flight ones finish for up to {@code grace}, then closes. */
    public void shutdown(Duration grace) {
        if (closed) {
            return;
        }
        synchronized (inProcessServed) {
            closed = true;
            // in-process callers go to the switch from now on, as the queue servers stop taking calls
            java.util.List.copyOf(inProcessServed.keySet()).forEach(this::closeInProcess);
        }
        PluginWatcher w = watcher;
        if (w != null) {
            w.close();
        }
        long deadline = System.nanoTime() + grace.toNanos();
        for (Served s : served.values()) {
            if (s.server() != null) {
                s.server().shutdown(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
            }
        }
        served.clear();
        calls.shutdown();
        try {
            if (!calls.awaitTermination(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                calls.shutdownNow();
            }
        } catch (InterruptedException e) {
            calls.shutdownNow();
            Thread.currentThread().interrupt();
        }
        runner.close();
    }

    @Override
    public void close() {
        shutdown(Duration.ofSeconds(5));
    }

    /** For logs. */
    @Override
    public String toString() {
        return "Smapiv3Bridge[" + config.pluginRoot() + ", " + Optional.ofNullable(switchAddress) + "]";
    }
}
