package org.xenstorage.daemon.service;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.daemon.config.DaemonConfig;
import org.xenstorage.daemon.config.Mode;
import org.xenstorage.daemon.config.Role;
import org.xenstorage.daemon.registry.SrRegistry;
import org.xenstorage.daemon.remote.RemoteEndpoint;
import org.xenstorage.daemon.routing.AdminCalls;
import org.xenstorage.daemon.routing.BackendDirectory;
import org.xenstorage.daemon.routing.DpInfoStore;
import org.xenstorage.daemon.routing.InProcessFirstLink;
import org.xenstorage.daemon.routing.Mux;
import org.xenstorage.daemon.routing.MuxServer;
import org.xenstorage.daemon.routing.SwitchLink;
import org.xenstorage.daemon.routing.SwitchRpcLink;
import org.xenstorage.daemon.task.DaemonTasks;
import org.xenstorage.daemon.updates.UpdateLog;
import org.xenstorage.daemon.updates.UpdatesService;
import org.xenstorage.exec.ChildProcessRunner;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.messageswitch.broker.EmbeddedSwitch;
import org.xenstorage.messageswitch.client.InProcessQueues;
import org.xenstorage.messageswitch.client.SwitchAddress;
import org.xenstorage.messageswitch.client.SwitchOptions;
import org.xenstorage.messageswitch.client.SwitchQueueServer;
import org.xenstorage.messageswitch.client.SwitchRpcClient;
import org.xenstorage.migrate.DataService;
import org.xenstorage.migrate.copy.DataExtents;
import org.xenstorage.migrate.copy.NbdCopy;
import org.xenstorage.migrate.copy.RemoteVdiCopy;
import org.xenstorage.migrate.copy.SparseCopier;
import org.xenstorage.migrate.mirror.CopyRecords;
import org.xenstorage.migrate.mirror.MirrorRecords;
import org.xenstorage.migrate.mirror.MirrorSender;
import org.xenstorage.migrate.remote.NbdTunnel;
import org.xenstorage.migrate.remote.RemoteConnector;
import org.xenstorage.migrate.remote.RemoteStorage;
import org.xenstorage.migrate.remote.RemoteTls;
import org.xenstorage.migrate.task.TaskTable;
import org.xenstorage.smapiv1.Smapiv1Backend;
import org.xenstorage.smapiv1.Smapiv1Config;
import org.xenstorage.smapiv1.catalogue.Catalogue;
import org.xenstorage.smapiv3.Smapiv3Bridge;
import org.xenstorage.smapiv3.Smapiv3Config;
import org.xenstorage.statefile.AtomicFile;
import org.xenstorage.statefile.BootScope;
import org.xenstorage.threads.BurstPools;

/**
 * The running daemon: starts the parts in dependency order (embedded broker, backends, then the mux, which
 * binds its queue only once its registry and DP_info are loaded, as xapi binds only after its DB sync) and
 * stops them in reverse, letting in-flight calls finish.
 */
public final class DaemonRuntime {
    private static final Logger LOG = LoggerFactory.getLogger(DaemonRuntime.class);
    /** How long the start waits for every volume plugin's queue to be served before it says it is ready. */
    private static final Duration SERVE_AT_START = Duration.ofSeconds(60);

    private final DaemonConfig config;
    private final SdNotify notify;
    private final List<AutoCloseable> closeLast = new ArrayList<>();
    private EmbeddedSwitch embeddedSwitch;
    // queues this process serves itself, which the mux calls without the switch round trip (mux-in-process)
    private final InProcessQueues inProcess = new InProcessQueues();
    private Smapiv1Backend smapiv1;
    private Smapiv3Bridge smapiv3;
    private SwitchRpcClient client;
    private SwitchQueueServer muxQueue;
    /** No collection for this long means a burst is over (IdleHeapTrim); checked this often. */
    static final java.time.Duration HEAP_TRIM_IDLE = java.time.Duration.ofSeconds(5);
    static final java.time.Duration HEAP_TRIM_CHECK = java.time.Duration.ofMillis(2500);

    private ExecutorService workers;
    private ExecutorService taskRunner;
    private ScheduledExecutorService scheduler;
    private ScheduledExecutorService discovery;
    private Mux mux;
    private RemoteEndpoint remote;
    private ChildProcessRunner runner;
    private String bootId;
    private final AtomicBoolean stopped = new AtomicBoolean();
    private final CountDownLatch terminated = new CountDownLatch(1);

    private DaemonRuntime(DaemonConfig config, SdNotify notify) {
        this.config = config;
        this.notify = notify;
    }

    /** Starts everything the configuration asks for; on failure, what was started is stopped again. */
    public static DaemonRuntime start(DaemonConfig config, SdNotify notify) throws Exception {
        DaemonRuntime rt = new DaemonRuntime(config, notify);
        try {
            rt.startAll();
        } catch (Exception | Error e) {
            rt.shutdown();
            throw e;
        }
        return rt;
    }

    public Mux mux() {
        return mux;
    }

    /** The remote SMAPIv2 endpoint, when {@code remote-listen} is set. */
    public Optional<RemoteEndpoint> remoteEndpoint() {
        return Optional.ofNullable(remote);
    }

    private void startAll() throws Exception {
        if (config.remote().isPresent()) {
            // a remote endpoint without a usable token (or TLS key) must stop the start before anything runs
            RemoteEndpoint.checkCredentials(config.remote().get());
        }
        // the bridge on a host keeps nothing but its state.db (and datapaths.json) beside it
        if (config.remoteCaBundle().isPresent()) {
            try {
                RemoteTls.trustingPem(config.remoteCaBundle().get());
            } catch (IOException | RuntimeException e) {
                throw new IOException("remote-ca-bundle " + config.remoteCaBundle().get() + ": " + e.getMessage(), e);
            }
        }
        if (config.role() == Role.ALL || config.mode() == Mode.EMBEDDED) {
            AtomicFile.createPrivateDirectories(config.stateDir());
            AtomicFile.createPrivateDirectories(config.runDir());
        }
        try {
            bootId = BootScope.read(config.bootIdFile());
        } catch (IOException e) {
            throw new IOException("cannot read the boot id from boot-id-file " + config.bootIdFile() + ": " + e, e);
        }
        scheduler = Executors.newSingleThreadScheduledExecutor(BurstPools.daemonThreads("daemon-timer"));
        // after a burst (a boot storm), the heap it grew goes back to the host once the daemon is idle again
        scheduler.scheduleWithFixedDelay(IdleHeapTrim.ofThisJvm(HEAP_TRIM_IDLE), HEAP_TRIM_CHECK.toMillis(),
                HEAP_TRIM_CHECK.toMillis(), TimeUnit.MILLISECONDS);
        if (config.mode() == Mode.EMBEDDED) {
            Path sock = config.switchPath().toAbsolutePath();
            AtomicFile.createPrivateDirectories(sock.getParent());
            removeStaleSocket(sock);
            // Queues come back empty: requests the previous run left were sent over connections that died with
            // it (their callers saw DISCONNECTED), and one already answered would run again, after later calls.
            embeddedSwitch = EmbeddedSwitch.start(Optional.of(sock), Optional.empty(),
                    config.stateDir().resolve("switch"), false);
            LOG.info("embedded message-switch listening on {}", sock);
        }
        SwitchAddress address = SwitchAddress.unix(config.switchPath().toAbsolutePath());
        if (config.role() == Role.SMAPIV3_BRIDGE) {
            startSmapiv3(address);
            notify.ready("serving the SMAPIv3 bridge on " + config.queuePrefix() + ".<plugin>");
            startWatchdog();
            return;
        }
        if (config.smapiv1()) {
            startSmapiv1(address);
        }
        if (config.smapiv3()) {
            startSmapiv3(address);
        }
        startMux(address);
        notify.ready("serving " + config.queuePrefix());
        startWatchdog();
    }

    private void startSmapiv1(SwitchAddress address) {
        if (!Files.isDirectory(config.smDir())) {
            LOG.warn("sm-dir {} does not exist: the SMAPIv1 backend is not started", config.smDir());
            return;
        }
        try {
            smapiv1 = Smapiv1Backend.start(new Smapiv1Config(config.smDir(), config.stateDir().resolve("smapiv1"),
                    config.queuePrefix(), config.driverTimeout(), config.backendConcurrency(), config.xapiSocket(),
                    config.runDir().resolve("smapiv1"), config.bootIdFile()),
                    address, smapiv1Options(config));
            LOG.info("SMAPIv1 backend serving types {}", smapiv1.types());
        } catch (UnsupportedOperationException e) {
            LOG.error("the SMAPIv1 backend is not available in this build: {}", e.getMessage());
        }
    }

    static Smapiv1Backend.Options smapiv1Options(DaemonConfig config) {
        Smapiv1Backend.Options o = Smapiv1Backend.Options.defaults().withKillOnTimeout(config.killOnTimeout())
                .withPreferNbdAttach(config.preferNbdAttach()).withDriverEnvironment(config.smEnvironment())
                .withPool(new Catalogue.Pool(config.poolMaster(), config.sharedSrTypes()));
        return config.inventoryFile().map(o::withInventoryFile).orElse(o);
    }

    private void startSmapiv3(SwitchAddress address) throws InterruptedException, IOException {
        if (!Files.isDirectory(config.pluginRoot())) {
            if (config.role() == Role.SMAPIV3_BRIDGE) {
                // the bridge is all this process is for: fail as xapi-storage-script does, not serve nothing
                throw new IOException("plugin-root (--root) " + config.pluginRoot() + " is not a directory");
            }
            LOG.warn("plugin-root {} does not exist: the SMAPIv3 bridge is not started", config.pluginRoot());
            return;
        }
        try {
            smapiv3 = Smapiv3Bridge.start(new Smapiv3Config(config.pluginRoot(), config.smapiv3State().getParent(),
                    config.queuePrefix(), config.scriptTimeout(), config.backendConcurrency(),
                    config.killOnTimeout(), config.bootIdFile()), address);
            // ready means every plugin's queue is served: a first queue start that timed out (a switch slow to
            // answer on a loaded machine) is retried now, not seconds after the mux already routes to it
            Set<String> unserved = smapiv3.awaitServed(SERVE_AT_START);
            if (!unserved.isEmpty()) {
                LOG.warn("volume plugins {} have no queue on the switch after {} s; still retrying in the background",
                        unserved, SERVE_AT_START.toSeconds());
            }
            LOG.info("SMAPIv3 bridge serving plugins {}", smapiv3.plugins());
        } catch (UnsupportedOperationException e) {
            LOG.error("the SMAPIv3 bridge is not available in this build: {}", e.getMessage());
        }
    }

    private void startMux(SwitchAddress address) throws IOException {
        Path muxDir = config.stateDir().resolve("mux");
        SrRegistry registry = SrRegistry.load(muxDir.resolve("registry.json"));
        // DP_info is attach state: datapaths of another boot are gone, the registry and copies are not
        Path dpsDir = config.runDir().resolve("mux").resolve("dps");
        AtomicFile.createPrivateDirectories(dpsDir.getParent());
        BootScope.adopt(dpsDir, bootId);
        DpInfoStore dps = DpInfoStore.open(dpsDir);
        client = SwitchRpcClient.connect(address, "xapi-storage-daemon");
        SwitchLink link = new SwitchRpcLink(client);
        if (config.muxInProcess()) {
            // backends of this process are called directly: one switch round trip per call instead of two
            if (smapiv1 != null) {
                smapiv1.serveInProcess(inProcess);
            }
            if (smapiv3 != null) {
                smapiv3.serveInProcess(inProcess);
            }
            link = new InProcessFirstLink(inProcess, link);
        }
        BackendDirectory directory = new BackendDirectory(link, config.queuePrefix(), config.discoveryInterval());
        UpdateLog updates = new UpdateLog(System.currentTimeMillis(), scheduler);
        taskRunner = BurstPools.unbounded(BurstPools.KEEP_ALIVE, BurstPools.daemonThreads("storage-task"));
        TaskTable tasks = DaemonTasks.table(updates, taskRunner);
        mux = new Mux(registry, dps, directory, link, config.callTimeout(), config.fanoutTimeout());
        // DATA.copy: storage-migrate's service, reaching every SR through this mux (so over the switch)
        runner = new ChildProcessRunner();
        StorageService viaMux = StorageService.of(mux);
        CopyRecords copies = CopyRecords.persistedAt(muxDir.resolve("copies.json"));
        // a copy to another host: SMAPIv2 to its endpoint, nbdcopy through tunnels whose sockets live under run-dir
        Path tunnels = config.runDir().resolve("copy");
        AtomicFile.createPrivateDirectories(tunnels);
        removeStaleTunnels(tunnels);
        RemoteVdiCopy remoteCopy = new RemoteVdiCopy(viaMux, copies, new RemoteConnector(config.remoteCaBundle(),
                tunnels, new RemoteStorage.Options(java.time.Duration.ofSeconds(30), config.callTimeout()),
                NbdTunnel.Options.defaults()), NbdCopy.withSystemTools(runner));
        java.util.OptionalInt ownPort = config.remote().map(r -> java.util.OptionalInt.of(r.port()))
                .orElse(java.util.OptionalInt.empty());
        // live mirrors: sends and receives persisted beside the copies (0600: a send holds the remote's token),
        // NBD tunnels to another host's endpoint listening under the run dir (short: socket paths are bounded)
        Path mirrorTunnels = config.runDir().resolve("mirror");
        AtomicFile.createPrivateDirectories(mirrorTunnels);
        DataService data = new DataService(viaMux, tasks, copies,
                () -> new SparseCopier(SparseCopier.DEFAULT_BLOCK, DataExtents.withSystemPython(runner)),
                url -> DataService.isLocalUrl(url, ownPort), remoteCopy,
                MirrorRecords.persistedAt(muxDir.resolve("mirrors.json")),
                new RemoteConnector(config.remoteCaBundle(), mirrorTunnels, new RemoteStorage.Options(
                        java.time.Duration.ofSeconds(30), config.callTimeout()), NbdTunnel.Options.defaults()),
                MirrorSender.Options.defaults());
        mux.setDataService(data, data);
        mux.setDeactivateHook(data::postDeactivate);
        if (smapiv1 != null) {
            // hosts are XenAPI records: xapi's in host mode, the embedded catalogue's otherwise
            Smapiv1Backend hosts = smapiv1;
            mux.setHostAddresses(hosts::hostAddress);
        }
        // a boot storm makes all of them; idle, they exit (their stacks are RSS the idle daemon would keep)
        workers = BurstPools.bounded(config.workers(), BurstPools.KEEP_ALIVE, BurstPools.daemonThreads("mux-worker"));
        AdminCalls admin = new AdminCalls(mux, tasks, updates, config.queuePrefix(), address.toString(),
                config.backendDomain());
        MuxServer server = new MuxServer(mux, tasks, new UpdatesService(updates), admin, workers,
                config.queuePrefix());
        directory.refresh();
        long every = Math.max(100, config.discoveryInterval().toMillis());
        // its own thread: a slow switch listing must not delay long-poll timeouts or watchdog pings
        discovery = Executors.newSingleThreadScheduledExecutor(BurstPools.daemonThreads("backend-discovery"));
        discovery.scheduleWithFixedDelay(() -> {
            try {
                directory.refresh();
            } catch (RuntimeException e) {
                LOG.warn("backend discovery failed: {}", e.toString());
            }
        }, every, every, TimeUnit.MILLISECONDS);
        // MuxServer.handle never blocks (it forwards or hands off to the workers), so it runs on the event
        // loop that delivered the request: no thread hop, and a burst of long-polls creates no threads
        muxQueue = SwitchQueueServer.start(address, config.queuePrefix(), config.maxInflight(), server::handle,
                SwitchOptions.defaults(), Runnable::run);
        if (config.remote().isPresent()) {
            // the same mux over HTTP(S) for another host's storage_migrate; no token, no endpoint (start fails)
            // its NBD sessions tell the mirror receiver when a sender's connection comes and goes: off the event
            // loop (the receiver reads the mirror records, whose lock is held while they are written to disk), on
            // one thread so that a session's start and end stay in order
            remote = RemoteEndpoint.start(config.remote().get(), server::handle, config.runDir().resolve("remote"),
                    (target, connected) -> scheduler.execute(
                            () -> data.remoteNbdSession(target.sr(), target.dp(), connected)));
        }
        // copies a killed predecessor left half-done: tear down their datapaths and partial VDIs
        taskRunner.execute(() -> {
            try {
                int n = data.reclaimStaleCopies("startup: reclaim stale copies", viaMux);
                if (n > 0) {
                    LOG.info("reclaimed {} copy operation(s) left by the previous run", n);
                }
                int m = data.reclaimStaleMirrors("startup: reclaim stale mirrors");
                if (m > 0) {
                    LOG.info("reclaimed {} live mirror send(s)/receive(s) left by the previous run", m);
                }
            } catch (RuntimeException e) {
                LOG.warn("could not reclaim stale copies: {}", e.toString());
            }
        });
        LOG.info("mux serving {} on {} (registered SRs: {}, live backend types: {})", config.queuePrefix(), address,
                registry.srs(), directory.types());
    }

    /** A killed predecessor's NBD tunnel sockets (nobody listens on them any more). */
    private static void removeStaleTunnels(Path dir) {
        try (var entries = Files.newDirectoryStream(dir, "nbd-*")) {
            for (Path d : entries) {
                Files.deleteIfExists(d.resolve("nbd"));
                Files.deleteIfExists(d);
            }
        } catch (IOException e) {
            LOG.warn("could not remove stale NBD tunnel sockets under {}: {}", dir, e.toString());
        }
    }

    private void startWatchdog() {
        SdNotify.watchdogInterval(System.getenv()).ifPresent(interval -> {
            long half = Math.max(1, interval.toMillis() / 2);
            scheduler.scheduleAtFixedRate(notify::watchdog, half, half, TimeUnit.MILLISECONDS);
            LOG.info("systemd watchdog every {} ms", half);
        });
    }

    /** A socket file nobody listens on is a leftover of a killed daemon; a live one means we must not start. */
    private static void removeStaleSocket(Path sock) throws IOException {
        if (!Files.exists(sock)) {
            return;
        }
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(sock));
            throw new IOException("another message-switch is already listening on " + sock
                    + " (is another storage daemon running with this state-dir?)");
        } catch (java.net.ConnectException | java.nio.channels.UnsupportedAddressTypeException e) {
            LOG.info("removing stale switch socket {}", sock);
            Files.deleteIfExists(sock);
        } catch (java.net.SocketException e) {
            LOG.info("removing stale switch socket {} ({})", sock, e.getMessage());
            Files.deleteIfExists(sock);
        }
    }

    /**
     * The queues served in this process that the mux calls directly when {@code mux-in-process} is on: the
     * daemon's own backends register here; code embedding the runtime may register another in-JVM backend (it
     * must serve the same queue on the switch too, where the mux learns that it is live).
     */
    public InProcessQueues inProcessQueues() {
        return inProcess;
    }

    /** Stops taking work, lets in-flight calls finish (up to the grace period), then closes everything. */
    public void shutdown() {
        if (!stopped.compareAndSet(false, true)) {
            awaitTermination();
            return;
        }
        Duration grace = config.shutdownGrace();
        LOG.info("shutting down: finishing in-flight calls (grace {} s)", grace.toSeconds());
        notify.stopping();
        try {
            if (remote != null) {
                quietly("remote endpoint", remote::close);
            }
            if (muxQueue != null) {
                quietly("mux queue", () -> muxQueue.shutdown(grace));
            }
            if (smapiv1 != null) {
                quietly("SMAPIv1 backend", () -> smapiv1.shutdown(grace));
            }
            if (smapiv3 != null) {
                quietly("SMAPIv3 bridge", () -> smapiv3.shutdown(grace));
            }
            if (workers != null) {
                workers.shutdown();
            }
            if (taskRunner != null) {
                taskRunner.shutdownNow(); // tasks are not persisted: a restart forgets them, as upstream
            }
            if (client != null) {
                quietly("switch client", client::close);
            }
            if (embeddedSwitch != null) {
                quietly("embedded switch", embeddedSwitch::close);
            }
            closeLast.forEach(c -> quietly("resource", c::close));
            if (runner != null) {
                quietly("child processes", runner::close);
            }
            if (discovery != null) {
                discovery.shutdownNow();
            }
            if (scheduler != null) {
                scheduler.shutdownNow();
            }
            LOG.info("storage daemon stopped");
        } finally {
            terminated.countDown();
        }
    }

    /** Blocks until {@link #shutdown} has finished. */
    public void awaitTermination() {
        try {
            terminated.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private interface Step {
        void run() throws Exception;
    }

    private static void quietly(String what, Step step) {
        try {
            step.run();
        } catch (Exception e) {
            LOG.warn("stopping the {} failed: {}", what, e.toString());
        }
    }
}
