package org.xenstorage.migrate;

import java.net.URI;
import java.util.List;
import java.util.Map;
import java.util.Objects;
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
import org.xenstorage.idl.types.MirrorInfo;
import org.xenstorage.idl.types.MirrorOperation;
import org.xenstorage.idl.types.MirrorReceiveResult;
import org.xenstorage.idl.types.MirrorStatus;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.migrate.copy.RemoteVdiCopy;
import org.xenstorage.migrate.copy.SparseCopier;
import org.xenstorage.migrate.copy.VdiCopy;
import org.xenstorage.migrate.mirror.CopyRecords;
import org.xenstorage.migrate.task.TaskLauncher;

/**
 * SMAPIv2 {@code DATA} and {@code DATA.MIRROR} for a standalone storage daemon (spec wrapper-mux 5.3).
 *
 * <p>{@code DATA.copy} between two SRs this daemon serves runs as a task ({@link VdiCopy}); to another host's
 * daemon, when given a {@link RemoteVdiCopy}, as a task too ({@link RemoteVdiCopy}). Everything
 * that needs a hypervisor (tapdisk NBD mirroring, fd passing, NBD servers) answers
 * {@code Unimplemented} with a message saying why; the state calls ({@code DATA.MIRROR.list/stat})
 * report the copies in flight; the clean-up calls for receives succeed, since no receive can exist
 * here; {@code pre_deactivate_hook} and {@code has_mirror_failed} answer {@code Unimplemented}, as
 * upstream's mux does. See {@code docs/migration.md} for the call-by-call table.
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

    /**
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
        this.tasks = Objects.requireNonNull(tasks);
        this.records = Objects.requireNonNull(records);
        this.copy = new VdiCopy(Objects.requireNonNull(storage), records, copiers);
        this.localUrl = Objects.requireNonNull(localUrl);
        this.remoteCopy = remoteCopy;
    }

    /**
     * The daemon's wiring: copy records persisted at {@code <stateDir>/copies.json} (0600, via
     * AtomicFile), one {@link SparseCopier} per copy with {@link SparseCopier#DEFAULT_BLOCK} blocks,
     * the extent map through {@code /usr/bin/python3} run by {@code runner}, loopback urls as "this host".
     * Call {@link #reclaimStaleCopies} once after the SRs are registered.
     */
    public static DataService create(StorageService storage, TaskLauncher tasks, java.nio.file.Path stateDir,
                                     org.xenstorage.exec.ChildProcessRunner runner) {
        org.xenstorage.migrate.copy.DataExtents extents =
                org.xenstorage.migrate.copy.DataExtents.withSystemPython(runner);
        return new DataService(storage, tasks, CopyRecords.persistedAt(stateDir.resolve("copies.json")),
                () -> new SparseCopier(SparseCopier.DEFAULT_BLOCK, extents), DataService::isLoopbackUrl);
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

    @Override
    public void sendStart(String dbg, String dp, String taskId, String srcSr, String vdi, String imageFormat,
                          String mirrorVm, String id, VdiInfo localVdi, String copyVm, String liveVm, String url,
                          MirrorReceiveResult recvResult, String destSr, boolean verifyDest) {
        throw StorageException.unimplemented("DATA.MIRROR.send_start: live mirroring needs tapdisk and xapi's "
                + "/services/SM/nbd handlers");
    }

    /** xen-api v25.11.0's source-side call (HEAD: {@code send_start}, driven by xapi): the same work, not built. */
    @Override
    @SuppressWarnings("deprecation")
    public String start(String dbg, String sr, String vdi, String dp, String mirrorVm, String copyVm, String url,
                        String dest, boolean verifyDest) {
        throw StorageException.unimplemented("DATA.MIRROR.start: live mirroring needs tapdisk and xapi's "
                + "/services/SM/nbd handlers");
    }

    /**
     * xen-api v25.11.0: stop a mirror this host sends. No send can be started here, so every id is unknown:
     * upstream answers {@code Does_not_exist("mirror", id)} for one (a copy in flight is not a send).
     */
    @Override
    @SuppressWarnings("deprecation")
    public void stop(String dbg, String id) {
        throw new StorageException(new StorageError.DoesNotExist("mirror", id));
    }

    @Override
    @SuppressWarnings("deprecation")
    public MirrorReceiveResult receiveStart(String dbg, String sr, VdiInfo vdiInfo, String id, List<String> similar) {
        throw receiveUnimplemented("receive_start");
    }

    @Override
    @SuppressWarnings("deprecation")
    public MirrorReceiveResult receiveStart2(String dbg, String sr, VdiInfo vdiInfo, String id, List<String> similar,
                                             String vm) {
        throw receiveUnimplemented("receive_start2");
    }

    @Override
    public MirrorReceiveResult receiveStart3(String dbg, String sr, VdiInfo vdiInfo, String id, String imageFormat,
                                             List<String> similar, String vm, String url, boolean verifyDest) {
        throw receiveUnimplemented("receive_start3");
    }

    private static StorageException receiveUnimplemented(String call) {
        return StorageException.unimplemented("DATA.MIRROR." + call + ": receiving a mirror needs an NBD "
                + "endpoint fed by the sender's tapdisk (xapi's /services/SM/nbd handlers)");
    }

    // No receive can be started here (receive_start* are Unimplemented), so finalize and cancel find
    // no receive state: upstream then does nothing and succeeds, and so do we.

    @Override
    @SuppressWarnings("deprecation")
    public void receiveFinalize(String dbg, String id) {
        LOG.debug("receive_finalize {}: no receive state", id);
    }

    @Override
    @SuppressWarnings("deprecation")
    public void receiveFinalize2(String dbg, String id) {
        LOG.debug("receive_finalize2 {}: no receive state", id);
    }

    @Override
    public void receiveFinalize3(String dbg, String id, String sr, String url, boolean verifyDest) {
        LOG.debug("receive_finalize3 {}: no receive state", id);
    }

    @Override
    @SuppressWarnings("deprecation")
    public void receiveCancel(String dbg, String id) {
        LOG.debug("receive_cancel {}: no receive state", id);
    }

    @Override
    public void receiveCancel2(String dbg, String id, String url, boolean verifyDest) {
        LOG.debug("receive_cancel2 {}: no receive state", id);
    }

    // DATA.MIRROR.pre_deactivate_hook and has_mirror_failed keep the interface's Unimplemented defaults, as
    // upstream's mux answers them: they belong to the migrating side's in-process mirror code
    // (storage_smapiv{1,3}_migrate), which is never reached over the wire.

    @Override
    public Map<String, MirrorInfo> list(String dbg) {
        return records.mirrors();
    }

    @Override
    public MirrorInfo stat(String dbg, String id) {
        return records.mirror(id).orElseThrow(() -> new StorageException(new StorageError.DoesNotExist("mirror", id)));
    }
}
