package org.xenstorage.migrate;

import java.net.URI;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.idl.api.DataApi;
import org.xenstorage.idl.api.DataMirrorApi;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.AsyncResult;
import org.xenstorage.idl.types.MirrorInfo;
import org.xenstorage.idl.types.MirrorOperation;
import org.xenstorage.idl.types.MirrorReceiveResult;
import org.xenstorage.idl.types.MirrorStatus;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.migrate.copy.RemoteVdiCopy;
import org.xenstorage.migrate.copy.SparseCopier;
import org.xenstorage.migrate.copy.VdiCopy;
import org.xenstorage.migrate.mirror.CopyRecords;
import org.xenstorage.migrate.mirror.MirrorReceiver;
import org.xenstorage.migrate.mirror.MirrorRecords;
import org.xenstorage.migrate.mirror.MirrorSender;
import org.xenstorage.migrate.remote.RemoteDaemons;
import org.xenstorage.migrate.task.TaskContext;
import org.xenstorage.migrate.task.TaskLauncher;

/**
 * SMAPIv2 {@code DATA} and {@code DATA.MIRROR} for a standalone storage daemon (spec wrapper-mux 5.3).
 *
 * <p>{@code DATA.copy} between two SRs this daemon serves runs as a task ({@link VdiCopy}); to another host's
 * daemon, when given a {@link RemoteVdiCopy}, as a task too ({@link RemoteVdiCopy}). Live mirrors (storage
 * motion of a running VM's disk to another host) are sent by {@link MirrorSender} and received by
 * {@link MirrorReceiver}, on the SMAPIv3 path: the SR's datapath plugin mirrors over NBD. The state calls
 * ({@code DATA.MIRROR.list/stat}) report sends, receives and copies in flight. What needs tapdisk (SMAPIv1
 * mirroring, fd passing) answers {@code Unimplemented} saying why. See {@code docs/migration.md} for the
 * call-by-call table.
 */
public final class DataService implements DataApi, DataMirrorApi {
    private static final Logger LOG = LoggerFactory.getLogger(DataService.class);

    /** Hosts that name this machine in a {@code DATA.copy} url. */
    private static final Set<String> LOOPBACK = Set.of("localhost", "127.0.0.1", "::1", "[::1]");

    private final TaskLauncher tasks;
    private final CopyRecords records;
    private final VdiCopy copy;
    private final Predicate<String> localUrl;
    /** Copies to another host's daemon; null: such a copy is {@code Unimplemented}. */
    private final RemoteVdiCopy remoteCopy;
    private final MirrorRecords mirrorRecords;
    private final MirrorSender sender;
    private final MirrorReceiver receiver;

    /**
     * A service whose mirror state is in memory and whose tunnels listen under the temporary directory (tests).
     *
     * @param storage  reaches every SR (the daemon passes a client routed through the mux)
     * @param tasks    runs copies as storage tasks
     * @param records  copies in flight (persisted by the daemon, in-memory in tests)
     * @param copiers  makes one copy engine per copy
     * @param localUrl true for a {@code DATA.copy} url that designates this daemon; see {@link #isLoopbackUrl}
     */
    public DataService(StorageService storage, TaskLauncher tasks, CopyRecords records,
                       Supplier<SparseCopier> copiers, Predicate<String> localUrl) {
        this(storage, tasks, records, copiers, localUrl, null);
    }

    /**
     * @param remoteCopy copies to a url that is not {@code localUrl} (made with the same {@code records}); null to
     *                   answer them {@code Unimplemented}
     * @see #DataService(StorageService, TaskLauncher, CopyRecords, Supplier, Predicate)
     */
    public DataService(StorageService storage, TaskLauncher tasks, CopyRecords records,
                       Supplier<SparseCopier> copiers, Predicate<String> localUrl, RemoteVdiCopy remoteCopy) {
        this(storage, tasks, records, copiers, localUrl, remoteCopy, MirrorRecords.inMemory(),
                RemoteDaemons.over(java.nio.file.Path.of(System.getProperty("java.io.tmpdir"))),
                MirrorSender.Options.defaults());
    }

    /**
     * @param mirrors  live mirrors sent and received (persisted by the daemon)
     * @param remotes  how another host's daemon is reached (SMAPIv2 and NBD tunnels)
     * @param options  the sender's polling and drain times
     */
    public DataService(StorageService storage, TaskLauncher tasks, CopyRecords records,
                       Supplier<SparseCopier> copiers, Predicate<String> localUrl, MirrorRecords mirrors,
                       RemoteDaemons remotes, MirrorSender.Options options) {
        this(storage, tasks, records, copiers, localUrl, null, mirrors, remotes, options);
    }

    /**
     * Copies to another host and live mirrors both (the daemon's form).
     *
     * @see #DataService(StorageService, TaskLauncher, CopyRecords, Supplier, Predicate, RemoteVdiCopy)
     * @see #DataService(StorageService, TaskLauncher, CopyRecords, Supplier, Predicate, MirrorRecords, RemoteDaemons,
     *      MirrorSender.Options)
     */
    public DataService(StorageService storage, TaskLauncher tasks, CopyRecords records,
                       Supplier<SparseCopier> copiers, Predicate<String> localUrl, RemoteVdiCopy remoteCopy,
                       MirrorRecords mirrors, RemoteDaemons remotes, MirrorSender.Options options) {
        this.tasks = Objects.requireNonNull(tasks);
        this.records = Objects.requireNonNull(records);
        this.copy = new VdiCopy(Objects.requireNonNull(storage), records, copiers);
        this.localUrl = Objects.requireNonNull(localUrl);
        this.remoteCopy = remoteCopy;
        this.mirrorRecords = Objects.requireNonNull(mirrors);
        this.sender = new MirrorSender(storage, mirrors, remotes, options);
        this.receiver = new MirrorReceiver(storage, mirrors);
    }

    /**
     * The daemon's wiring: copy records persisted at {@code <stateDir>/copies.json} and live mirrors at
     * {@code <stateDir>/mirrors.json} (0600, via AtomicFile), one {@link SparseCopier} per copy with
     * {@link SparseCopier#DEFAULT_BLOCK} blocks, the extent map through {@code /usr/bin/python3} run by
     * {@code runner}, loopback urls as "this host", mirror tunnels under {@code tunnelDir} (keep it short).
     * Call {@link #reclaimStaleCopies} and {@link #reclaimStaleMirrors} once after the SRs are registered.
     */
    public static DataService create(StorageService storage, TaskLauncher tasks, java.nio.file.Path stateDir,
                                     java.nio.file.Path tunnelDir, org.xenstorage.exec.ChildProcessRunner runner) {
        org.xenstorage.migrate.copy.DataExtents extents =
                org.xenstorage.migrate.copy.DataExtents.withSystemPython(runner);
        return new DataService(storage, tasks, CopyRecords.persistedAt(stateDir.resolve("copies.json")),
                () -> new SparseCopier(SparseCopier.DEFAULT_BLOCK, extents), DataService::isLoopbackUrl,
                MirrorRecords.persistedAt(stateDir.resolve("mirrors.json")), RemoteDaemons.over(tunnelDir),
                MirrorSender.Options.defaults());
    }

    /**
     * The default notion of "this host": an empty url, or an http(s) url whose host is a loopback
     * name (xapi's local form is {@code http://127.0.0.1/services/SM...}).
     */
    public static boolean isLoopbackUrl(String url) {
        if (url == null || url.isBlank()) {
            return true;
        }
        try {
            URI u = new URI(url);
            return ("http".equalsIgnoreCase(u.getScheme()) || "https".equalsIgnoreCase(u.getScheme()))
                    && u.getHost() != null && LOOPBACK.contains(u.getHost().toLowerCase(java.util.Locale.ROOT));
        } catch (java.net.URISyntaxException e) {
            return false;
        }
    }

    /**
     * Whether {@code url} designates this daemon when its own remote endpoint listens on {@code endpointPort}: an
     * empty url, or an http(s) url whose host is a loopback name ({@link #isLoopbackUrl}) and whose port is absent,
     * the scheme's default (xapi's local form, {@code http://127.0.0.1/services/SM}) or {@code endpointPort}. A
     * loopback url with another port names another daemon on this machine, reached as a remote one.
     */
    public static boolean isLocalUrl(String url, java.util.OptionalInt endpointPort) {
        if (!isLoopbackUrl(url)) {
            return false;
        }
        if (url == null || url.isBlank()) {
            return true;
        }
        try {
            URI u = new URI(url);
            int port = u.getPort();
            int standard = "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
            return port < 0 || port == standard || (endpointPort.isPresent() && port == endpointPort.getAsInt());
        } catch (java.net.URISyntaxException e) {
            return false;
        }
    }

    /**
     * Copies this process's predecessor left half-done: tear them down (call once at startup). A copy to another
     * host is torn down there through its recorded url (its remote datapath and VDI) and here (its source datapath).
     */
    public int reclaimStaleCopies(String dbg, StorageService storage) {
        if (remoteCopy == null) {
            return records.reclaim(dbg, storage);
        }
        return records.reclaim(dbg, storage, r -> localUrl.test(r.url()) ? storage
                : remoteCopy.connector().storage(RemoteVdiCopy.parseUrl(r.url()), r.verifyDest()));
    }

    /**
     * Live mirrors this process's predecessor left (sends: remote receive cancelled, datapath destroyed, tunnel
     * socket removed; receives: datapath and VDI destroyed): call once at startup, after the SRs are registered.
     *
     * @return how many sends and receives were reclaimed
     */
    public int reclaimStaleMirrors(String dbg) {
        return sender.reclaim(dbg) + receiver.reclaim(dbg);
    }

    /**
     * Upstream's {@code post_deactivate_hook}, which the mux calls after a {@code VDI.deactivate} succeeded: if
     * this host sends a mirror of {@code sr/vdi}, the destination is finalized and the send forgotten.
     */
    public void postDeactivate(String dbg, String sr, String vdi) {
        sender.postDeactivate(dbg, sr, vdi);
    }

    // ---------------------------------------------------------------- DATA

    @Override
    public String copy(String dbg, String sr, String vdi, String vm, String url, String dest, boolean verifyDest) {
        VdiCopy.Request q = new VdiCopy.Request(dbg, sr, vdi, vm, url, dest);
        return tasks.launch(dbg, "DATA.copy " + sr + "/" + vdi + " -> " + dest, ctx -> {
            boolean local = localUrl.test(url);
            if (!local && remoteCopy == null) {
                throw StorageException.unimplemented("DATA.copy to another host (url " + redact(url)
                        + "): this daemon copies only between SRs it serves");
            }
            try {
                return local ? copy.run(q, ctx) : remoteCopy.run(q, verifyDest, ctx);
            } catch (StorageException e) {
                throw e;
            } catch (RuntimeException e) {
                LOG.warn("DATA.copy {}/{} failed", sr, vdi, e);
                throw StorageException.internal(String.valueOf(e));
            }
        });
    }

    /** Drops a url's query (xapi puts the session id there) before it reaches logs or errors. */
    static String redact(String url) {
        int q = url.indexOf('?');
        return q < 0 ? url : url.substring(0, q) + "?...";
    }

    @Override
    public MirrorOperation mirror(String dbg, String sr, String vdi, String imageFormat, String vm, String url) {
        throw StorageException.unimplemented("DATA.mirror: mirroring to NBD is done by the SR's SMAPIv3 plugin "
                + "(routed by the mux) or by tapdisk; this service has neither");
    }

    @Override
    public MirrorStatus stat(String dbg, String sr, String vdi, String vm, MirrorOperation operation) {
        throw StorageException.unimplemented("DATA.stat: reports SMAPIv3 plugin copy/mirror operations, "
                + "which the mux routes to the SR's plugin; DATA.copy progress is in TASK.stat");
    }

    @Override
    public String importActivate(String dbg, String dp, String sr, String vdi, String vm) {
        throw StorageException.unimplemented("DATA.import_activate: needs a tapdisk accepting the mirror fd");
    }

    @Override
    public String getNbdServer(String dbg, String dp, String sr, String vdi, String vm) {
        throw StorageException.unimplemented("DATA.get_nbd_server: needs tapdisk/qemu-dp to export the VDI over NBD");
    }

    // ---------------------------------------------------------------- DATA.MIRROR

    /**
     * Source side, as upstream's SMAPIv3 {@code send_start}: returns once the mirror is ready (see
     * {@link MirrorSender}); {@code task_id} is the caller's task (xapi's), which this daemon does not hold, so
     * progress is only logged here ({@code DATA.MIRROR.start} runs a task of this daemon's own).
     */
    @Override
    public void sendStart(String dbg, String dp, String taskId, String srcSr, String vdi, String imageFormat,
                          String mirrorVm, String id, VdiInfo localVdi, String copyVm, String liveVm, String url,
                          MirrorReceiveResult recvResult, String destSr, boolean verifyDest) {
        sender.sendStart(new MirrorSender.Request(dbg, dp, true, srcSr, vdi, imageFormat, mirrorVm, liveVm,
                id == null ? "" : id, url, recvResult, destSr, verifyDest), NO_TASK);
    }

    /**
     * xen-api v25.11.0's source-side call: {@code receive_start3} on the daemon at {@code url}, then the send on
     * the guest's datapath {@code dp} (the guest is {@code mirror_vm}), as a task; it completes with
     * {@code Mirror_id} once the mirror is ready.
     */
    @Override
    @SuppressWarnings("deprecation")
    public String start(String dbg, String sr, String vdi, String dp, String mirrorVm, String copyVm, String url,
                        String dest, boolean verifyDest) {
        return tasks.launch(dbg, "DATA.MIRROR.start " + sr + "/" + vdi + " -> " + dest, ctx ->
                Optional.of(new AsyncResult.MirrorId(sender.start(dbg, sr, vdi, dp, mirrorVm, url, dest, verifyDest,
                        ctx))));
    }

    /** xen-api v25.11.0: stop a mirror this host sends, and cancel its receive; unknown id: {@code Does_not_exist}. */
    @Override
    @SuppressWarnings("deprecation")
    public void stop(String dbg, String id) {
        sender.stop(dbg, id);
    }

    @Override
    @SuppressWarnings("deprecation")
    public MirrorReceiveResult receiveStart(String dbg, String sr, VdiInfo vdiInfo, String id, List<String> similar) {
        throw vhdReceiveUnimplemented("receive_start");
    }

    @Override
    @SuppressWarnings("deprecation")
    public MirrorReceiveResult receiveStart2(String dbg, String sr, VdiInfo vdiInfo, String id, List<String> similar,
                                             String vm) {
        throw vhdReceiveUnimplemented("receive_start2");
    }

    /** Destination side (upstream's SMAPIv3 receive): see {@link MirrorReceiver#receiveStart3}. */
    @Override
    public MirrorReceiveResult receiveStart3(String dbg, String sr, VdiInfo vdiInfo, String id, String imageFormat,
                                             List<String> similar, String vm, String url, boolean verifyDest) {
        try {
            return receiver.receiveStart3(dbg, sr, vdiInfo, id, vm);
        } catch (IllegalArgumentException e) {
            throw new StorageException(new StorageError.MigrationPreparationFailure("receive_start3: " + e.getMessage()));
        }
    }

    /** The older receives answer the SMAPIv1 form (a VHD leaf fed by the sender's tapdisk), which needs tapdisk. */
    private static StorageException vhdReceiveUnimplemented(String call) {
        return StorageException.unimplemented("DATA.MIRROR." + call + ": this receive is the SMAPIv1 (VHD) form, "
                + "fed by the sender's tapdisk, which Debian does not have; this daemon receives live mirrors with "
                + "receive_start3 (an NBD export of an SMAPIv3 SR)");
    }

    // The older finalize/cancel names act on a receive_start3 receive of that id (older xapis pair them with
    // receive_start2, which cannot succeed here, so they normally find nothing and succeed doing nothing).

    @Override
    @SuppressWarnings("deprecation")
    public void receiveFinalize(String dbg, String id) {
        receiver.receiveFinalize(dbg, id);
    }

    @Override
    @SuppressWarnings("deprecation")
    public void receiveFinalize2(String dbg, String id) {
        receiver.receiveFinalize(dbg, id);
    }

    @Override
    public void receiveFinalize3(String dbg, String id, String sr, String url, boolean verifyDest) {
        receiver.receiveFinalize(dbg, id);
    }

    @Override
    @SuppressWarnings("deprecation")
    public void receiveCancel(String dbg, String id) {
        receiver.receiveCancel(dbg, id);
    }

    @Override
    public void receiveCancel2(String dbg, String id, String url, boolean verifyDest) {
        receiver.receiveCancel(dbg, id);
    }

    @Override
    public void preDeactivateHook(String dbg, String dp, String sr, String vdi) {
        sender.preDeactivateHook(dbg, sr, vdi);
    }

    @Override
    public boolean hasMirrorFailed(String dbg, String id, String sr) {
        return sender.hasMirrorFailed(dbg, id) || receiver.senderLost(id);
    }

    /**
     * The remote endpoint's news: another host's NBD connection to datapath {@code dp} of {@code sr} opened
     * ({@code connected}) or ended. A receive on that datapath counts as failed once its sender is gone longer
     * than {@link MirrorReceiver#SENDER_GRACE} without {@code receive_finalize3} or {@code receive_cancel2}.
     */
    public void remoteNbdSession(String sr, String dp, boolean connected) {
        if (connected) {
            receiver.senderConnected(sr, dp);
        } else {
            receiver.senderDisconnected(sr, dp);
        }
    }

    /** Sends and receives (upstream's states), then the copies in flight ({@code copy/<sr>/<vdi>}). */
    @Override
    public Map<String, MirrorInfo> list(String dbg) {
        Map<String, MirrorInfo> out = new java.util.LinkedHashMap<>();
        for (String id : mirrorRecords.ids()) {
            mirrorInfo(dbg, id).ifPresent(i -> out.put(id, i));
        }
        records.mirrors().forEach(out::putIfAbsent);
        return out;
    }

    @Override
    public MirrorInfo stat(String dbg, String id) {
        return mirrorInfo(dbg, id).or(() -> records.mirror(id))
                .orElseThrow(() -> new StorageException(new StorageError.DoesNotExist("mirror", id)));
    }

    private Optional<MirrorInfo> mirrorInfo(String dbg, String id) {
        var send = sender.send(id);
        boolean failed = send.isPresent() && sender.hasMirrorFailed(dbg, id);
        return MirrorRecords.info(id, send, mirrorRecords.receive(id), failed, receiver.senderLost(id));
    }

    /** The context of a {@code send_start} called over the wire: the caller's task is not one of ours. */
    private static final TaskContext NO_TASK = new TaskContext() {
        @Override
        public String taskId() {
            return "";
        }

        @Override
        public void progress(double fraction) {
        }

        @Override
        public boolean cancelRequested() {
            return false;
        }

        @Override
        public void checkCancelled() {
        }

        @Override
        public CancelRegistration onCancel(Runnable callback) {
            return () -> { };
        }
    };
}
