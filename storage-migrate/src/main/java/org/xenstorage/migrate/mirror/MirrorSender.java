package org.xenstorage.migrate.mirror;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.MirrorOperation;
import org.xenstorage.idl.types.MirrorReceiveResult;
import org.xenstorage.idl.types.MirrorStatus;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.migrate.remote.NbdTunnel;
import org.xenstorage.migrate.remote.RemoteDaemons;
import org.xenstorage.migrate.remote.RemoteNbdPath;
import org.xenstorage.migrate.task.TaskContext;

/**
 * The source side of a live mirror on the SMAPIv3 path (upstream's {@code storage_smapiv3_migrate} send): the
 * destination's NBD export is reached through an {@link NbdTunnel} to the other daemon's
 * {@code /services/SM/nbdproxy/import/...} path, the SR's datapath plugin mirrors the guest's volume into it
 * ({@code DATA.mirror}, routed by the mux; qdisk runs a qemu {@code blockdev-mirror}), and {@code DATA.stat} is
 * polled until the mirror is ready (upstream's {@code mirror_wait}). From then on every guest write reaches both
 * sides until the source is deactivated, which ends the mirror cleanly; {@link #postDeactivate} then finalizes the
 * destination and forgets the send.
 *
 * <p>A send that fails or is cancelled before it is ready, or is stopped, is torn down: tunnel closed (the
 * plugin's mirror loses its target), the remote receive cancelled, the datapath the sender attached destroyed, the
 * record dropped. The plugin's own mirror job is not cancelled: no SMAPIv2 call reaches the plugin's
 * {@code Data.cancel} (upstream has none either); the job fails on its lost target and is removed when the volume
 * is deactivated. See docs/migration.md, "Live mirror".
 */
public final class MirrorSender {
    private static final Logger LOG = LoggerFactory.getLogger(MirrorSender.class);
    /** The domain a send attaches the source for (upstream attaches it for dom0). */
    static final String DOM0 = "0";
    /**
     * The first pause between two {@code DATA.stat} of a wait: a small volume, or a mirror already ready at
     * switch-over, is seen at once rather than a whole {@link Options#poll} later; the pause then doubles, so a
     * long mirror costs the plugin no more calls than before.
     */
    static final Duration FIRST_POLL = Duration.ofMillis(20);

    /**
     * @param poll  the longest pause between two {@code DATA.stat} while waiting for the mirror: the first comes
     *              {@link #FIRST_POLL} after the start, each next pause twice the last, up to this
     * @param drain how long {@code pre_deactivate_hook} waits for a mirror to be ready
     */
    public record Options(Duration poll, Duration drain) {
        public Options {
            Objects.requireNonNull(poll, "poll");
            Objects.requireNonNull(drain, "drain");
        }

        /** Polls at most 500 ms apart (from 20 ms, doubling), drains for up to 10 minutes. */
        public static Options defaults() {
            return new Options(Duration.ofMillis(500), Duration.ofMinutes(10));
        }
    }

    /** What a caller of {@link #sendStart} gives besides the task. */
    public record Request(String dbg, String dp, boolean attachDp, String sr, String vdi, String imageFormat,
                          String mirrorVm, String liveVm, String id, String url, MirrorReceiveResult recvResult,
                          String destSr, boolean verifyDest) {
        public Request {
            Objects.requireNonNull(dp, "dp");
            Objects.requireNonNull(sr, "sr");
            Objects.requireNonNull(vdi, "vdi");
            Objects.requireNonNull(mirrorVm, "mirror_vm");
            Objects.requireNonNull(liveVm, "live_vm");
            Objects.requireNonNull(id, "id");
            Objects.requireNonNull(url, "url");
            Objects.requireNonNull(recvResult, "recv_result");
            Objects.requireNonNull(destSr, "dest_sr");
            imageFormat = imageFormat == null ? "" : imageFormat;
        }
    }

    /** A send of this run: its record, its tunnel, and whether it was ended. */
    private static final class Live {
        volatile SendRecord record;
        volatile NbdTunnel tunnel;
        volatile boolean stopRequested;
        final AtomicBoolean ended = new AtomicBoolean();
        final Object wake = new Object();

        Live(SendRecord record) {
            this.record = record;
        }
    }

    private final StorageService local;
    private final MirrorRecords records;
    private final RemoteDaemons remotes;
    private final Options options;
    private final Map<String, Live> live = new ConcurrentHashMap<>();

    /**
     * @param local   this daemon's SRs (the mux: {@code DATA.mirror}/{@code DATA.stat} reach the SR's plugin)
     * @param records where sends are recorded
     * @param remotes how the destination daemon is reached
     */
    public MirrorSender(StorageService local, MirrorRecords records, RemoteDaemons remotes, Options options) {
        this.local = Objects.requireNonNull(local, "local");
        this.records = Objects.requireNonNull(records, "records");
        this.remotes = Objects.requireNonNull(remotes, "remotes");
        this.options = Objects.requireNonNull(options, "options");
    }

    /**
     * {@code DATA.MIRROR.send_start} (and the second half of v25.11.0's {@code start}): returns once the mirror
     * is ready (its first full copy done, every new write mirrored), reporting progress on {@code ctx}. On
     * failure or cancel everything it made is torn down and the error raised: a storage error as it came, a
     * cancel as {@code Cancelled}, anything else as {@code Migration_mirror_failure}.
     */
    public void sendStart(Request q, TaskContext ctx) {
        if (!(q.recvResult() instanceof MirrorReceiveResult.Smapiv3Mirror v3)) {
            throw new StorageException(new StorageError.MigrationPreparationFailure("DATA.MIRROR.send_start of "
                    + q.sr() + "/" + q.vdi() + ": the destination answered a Vhd_mirror (a SMAPIv1 receive); this "
                    + "host mirrors only into an NBD export (SMAPIv3_mirror)"));
        }
        MirrorReceiveResult.Smapiv3 dest = v3.value();
        checkUrl("DATA.MIRROR.send_start", q.url());
        String id = q.id().isEmpty() ? MirrorId.of(q.sr(), q.vdi()) : q.id();
        SendRecord first = new SendRecord(id, q.sr(), q.vdi(), q.dp(), q.attachDp(), q.liveVm(), q.mirrorVm(), q.url(),
                q.verifyDest(), q.destSr(), dest.mirrorVdi().vdi(), dest.mirrorDatapath(), dest.nbdExport(),
                Optional.empty(), "", false);
        Live l = new Live(first);
        if (live.putIfAbsent(id, l) != null) {
            throw new StorageException(new StorageError.MigrationPreparationFailure("mirror " + id
                    + " is already being sent from here: stop it first"));
        }
        try (TaskContext.CancelRegistration onCancel = ctx.onCancel(() -> wake(l))) {
            records.putSend(first); // before anything is attached or opened: a crash from here on is reclaimed
            establish(q, l, ctx);
        } catch (RuntimeException e) {
            String why = l.stopRequested ? "stopped" : e.getMessage();
            LOG.warn("mirror {} not established ({}): tearing it down", id, why);
            end(q.dbg(), l, true);
            throw asStorageError(id, e); // a stop shows as the Migration_mirror_failure checkGoing raised
        }
    }

    private void establish(Request q, Live l, TaskContext ctx) {
        String id = l.record.id();
        if (q.attachDp()) {
            // upstream attaches the source again for dom0 on the mirror's own datapath (not activated)
            local.vdi().attach3(q.dbg(), q.dp(), q.sr(), q.vdi(), DOM0, true);
        }
        checkGoing(l, ctx);
        SendRecord r = l.record;
        NbdTunnel tunnel;
        try {
            tunnel = remotes.tunnel(q.url(), q.verifyDest(), RemoteNbdPath.nbdProxyImport(q.mirrorVm(), q.destSr(),
                    r.remoteVdi(), r.remoteDp()));
        } catch (IOException e) {
            throw new StorageException(new StorageError.MigrationMirrorFailure("mirror " + id
                    + ": cannot open the NBD tunnel to the destination: " + e.getMessage()));
        }
        l.tunnel = tunnel;
        update(l, l.record.withTunnelDir(tunnel.socket().getParent().toString()));
        if (l.ended.get()) { // stopped meanwhile: the stop could not see the tunnel
            tunnel.close();
        }
        checkGoing(l, ctx);
        MirrorOperation op;
        try {
            op = local.data().mirror(q.dbg(), q.sr(), q.vdi(), q.imageFormat(), q.liveVm(),
                    tunnel.nbdUri(r.nbdExport()));
        } catch (StorageException e) {
            if (e.error() instanceof StorageError.Unimplemented) {
                throw StorageException.unimplemented("DATA.MIRROR.send_start of " + q.sr() + "/" + q.vdi()
                        + ": the SR's backend cannot mirror (DATA.mirror answered " + e.error() + "); live mirroring "
                        + "needs a SMAPIv3 SR whose datapath plugin mirrors over NBD (e.g. simplefile with "
                        + "datapath=qdisk). SMAPIv1 SRs are mirrored through tapdisk upstream, which Debian does "
                        + "not have");
            }
            throw e;
        }
        String opId = op instanceof MirrorOperation.MirrorV1 m ? m.id() : ((MirrorOperation.CopyV1) op).id();
        update(l, l.record.withOperation(opId));
        LOG.info("mirror {}: {}/{} -> {}/{} started (operation {})", id, q.sr(), q.vdi(), q.destSr(), r.remoteVdi(),
                opId);
        if (op instanceof MirrorOperation.CopyV1) {
            return; // upstream does not wait for a copy operation
        }
        double reported = -1;
        long pause = firstPause();
        while (true) {
            checkGoing(l, ctx);
            MirrorStatus st = local.data().stat(q.dbg(), q.sr(), q.vdi(), q.liveVm(), op);
            if (st.complete()) {
                ctx.progress(1.0);
                LOG.info("mirror {} is ready: every write now reaches {}/{}", id, q.destSr(), r.remoteVdi());
                return;
            }
            if (st.failed()) {
                update(l, l.record.asFailed());
                throw new StorageException(new StorageError.MigrationMirrorFailure("Mirror failed during syncing ("
                        + id + ")"));
            }
            double p = st.progress().orElse(0.0);
            if (p >= reported + 0.01) {
                ctx.progress(p);
                reported = p;
            }
            sleep(l, pause);
            pause = nextPause(pause);
        }
    }

    private void checkGoing(Live l, TaskContext ctx) {
        ctx.checkCancelled();
        if (l.stopRequested || l.ended.get()) {
            throw new StorageException(new StorageError.MigrationMirrorFailure("mirror " + l.record.id()
                    + " was stopped"));
        }
    }

    private long firstPause() {
        return Math.max(1, Math.min(FIRST_POLL.toMillis(), options.poll().toMillis()));
    }

    private long nextPause(long pause) {
        return Math.max(1, Math.min(options.poll().toMillis(), pause * 2));
    }

    private void sleep(Live l, long millis) {
        synchronized (l.wake) {
            try {
                l.wake.wait(millis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw StorageException.internal("interrupted while waiting for the mirror");
            }
        }
    }

    private static void wake(Live l) {
        synchronized (l.wake) {
            l.wake.notifyAll();
        }
    }

    private void update(Live l, SendRecord r) {
        l.record = r;
        if (!l.ended.get()) {
            records.putSend(r);
        }
    }

    private static StorageException asStorageError(String id, RuntimeException e) {
        if (e instanceof StorageException s) {
            return s;
        }
        return new StorageException(new StorageError.MigrationMirrorFailure("mirror " + id + ": " + e));
    }

    /**
     * Ends a send once: tunnel closed, the remote receive cancelled (when {@code cancelRemote}) or left to its
     * finalize, the datapath the sender attached destroyed, the record dropped. Every step is tried.
     */
    private void end(String dbg, Live l, boolean cancelRemote) {
        if (!l.ended.compareAndSet(false, true)) {
            return;
        }
        SendRecord r = l.record;
        NbdTunnel t = l.tunnel;
        if (t != null) {
            quietly("closing the NBD tunnel", t::close);
        }
        if (cancelRemote) {
            quietly("DATA.MIRROR.receive_cancel2 on the destination", () -> remotes.storage(r.url(), r.verifyDest())
                    .dataMirror().receiveCancel2(dbg, r.id(), r.url(), r.verifyDest()));
        }
        if (r.ownsDp()) {
            quietly("DP.destroy2 " + r.localDp(), () -> local.dp().destroy2(dbg, r.localDp(), r.sr(), r.vdi(), DOM0,
                    false));
        }
        records.removeSend(r.id());
        live.remove(r.id(), l);
        wake(l);
    }

    /**
     * v25.11.0's {@code DATA.MIRROR.stop}: ends the send {@code id} (establishing or established) and cancels its
     * receive on the destination. Unknown id: {@code Does_not_exist(mirror, id)}, as upstream.
     */
    public void stop(String dbg, String id) {
        Live l = live.get(id);
        if (l == null) {
            throw new StorageException(new StorageError.DoesNotExist("mirror", id));
        }
        l.stopRequested = true;
        LOG.info("mirror {}: stop requested", id);
        end(dbg, l, true);
    }

    /**
     * {@code DATA.MIRROR.has_mirror_failed} (upstream's): the plugin's {@code DATA.stat} of the send's operation;
     * false for an id this host does not send. A failure once seen is kept; a stat that cannot be made answers
     * what was last known.
     */
    public boolean hasMirrorFailed(String dbg, String id) {
        Live l = live.get(id);
        if (l == null) {
            return false;
        }
        SendRecord r = l.record;
        if (r.failed() || r.operation().isEmpty()) {
            return r.failed();
        }
        try {
            MirrorStatus st = local.data().stat(dbg, r.sr(), r.vdi(), r.liveVm(),
                    new MirrorOperation.MirrorV1(r.operation().get()));
            if (st.failed()) {
                update(l, r.asFailed());
                LOG.warn("mirror {} has failed", id);
                return true;
            }
            return false;
        } catch (StorageException e) {
            LOG.warn("mirror {}: DATA.stat failed ({}); answering the last known state", id, e.getMessage());
            return r.failed();
        }
    }

    /**
     * {@code DATA.MIRROR.pre_deactivate_hook}: for a send of {@code sr/vdi}, waits until the plugin's mirror is
     * ready (a write-blocking mirror that is ready holds nothing back: deactivate then ends it with both sides
     * equal) and raises {@code Migration_mirror_failure} if it failed or does not get ready within the drain
     * time. Nothing to do for a VDI this host does not send. (Upstream's SMAPIv3 hook is a no-op, its check being
     * in {@code mirror_wait}; here a caller learns of a failed mirror before it deactivates.)
     */
    public void preDeactivateHook(String dbg, String sr, String vdi) {
        Live l = live.get(MirrorId.of(sr, vdi));
        if (l == null || l.record.operation().isEmpty()) {
            return;
        }
        SendRecord r = l.record;
        long deadline = System.nanoTime() + options.drain().toNanos();
        MirrorOperation op = new MirrorOperation.MirrorV1(r.operation().get());
        long pause = firstPause();
        while (true) {
            if (l.ended.get()) {
                throw new StorageException(new StorageError.MigrationMirrorFailure("mirror " + r.id()
                        + " was stopped"));
            }
            MirrorStatus st = l.record.failed() ? new MirrorStatus(true, false, Optional.empty())
                    : local.data().stat(dbg, sr, vdi, r.liveVm(), op);
            if (st.failed()) {
                update(l, l.record.asFailed());
                throw new StorageException(new StorageError.MigrationMirrorFailure("mirror " + r.id()
                        + " has failed: the destination does not hold the source's data"));
            }
            if (st.complete()) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new StorageException(new StorageError.MigrationMirrorFailure("mirror " + r.id()
                        + " is not ready after " + options.drain().toSeconds() + " s"));
            }
            sleep(l, pause);
            pause = nextPause(pause);
        }
    }

    /**
     * After the source {@code sr/vdi} was deactivated (upstream's {@code post_deactivate_hook}, which the mux
     * calls): the plugin has ended the mirror cleanly, so the destination is finalized
     * ({@code receive_finalize3}, failures logged) and the send forgotten: tunnel closed, the sender's datapath
     * destroyed. Nothing for a VDI this host does not send, or one whose mirror is not ready yet: deactivating
     * that one made the plugin abandon it, and the send stays (failed) for its caller to stop.
     */
    public void postDeactivate(String dbg, String sr, String vdi) {
        Live l = live.get(MirrorId.of(sr, vdi));
        if (l == null || l.record.operation().isEmpty() || l.ended.get()) {
            return;
        }
        SendRecord r = l.record;
        MirrorStatus st;
        try {
            st = local.data().stat(dbg, sr, vdi, r.liveVm(), new MirrorOperation.MirrorV1(r.operation().get()));
        } catch (StorageException e) {
            LOG.warn("mirror {}: DATA.stat after deactivate failed ({}): not finalizing", r.id(), e.getMessage());
            return;
        }
        if (!st.complete() || st.failed()) {
            update(l, l.record.asFailed());
            LOG.warn("mirror {}: the source was deactivated before the mirror was ready: it failed", r.id());
            return;
        }
        quietly("DATA.MIRROR.receive_finalize3 on the destination", () -> remotes.storage(r.url(), r.verifyDest())
                .dataMirror().receiveFinalize3(dbg, r.id(), r.destSr(), r.url(), r.verifyDest()));
        end(dbg, l, false);
        LOG.info("mirror {} finalized: {}/{} now holds {}/{}", r.id(), r.destSr(), r.remoteVdi(), sr, vdi);
    }

    /**
     * v25.11.0's {@code DATA.MIRROR.start}, as a task body: the source VDI looked up ({@code SR.scan2}), the
     * destination prepared on the remote daemon ({@code receive_start3} into {@code dest} for {@code mirrorVm}),
     * then {@link #sendStart} on the guest's own datapath {@code dp} (not attached again, not destroyed at the
     * end). Completes with {@code Mirror_id} once the mirror is ready; on failure the remote receive is cancelled.
     */
    public String start(String dbg, String sr, String vdi, String dp, String mirrorVm, String url, String dest,
                        boolean verifyDest, TaskContext ctx) {
        checkUrl("DATA.MIRROR.start", url);
        VdiInfo source = local.sr().scan2(dbg, sr).vdis().stream().filter(v -> v.vdi().equals(vdi)).findFirst()
                .orElseThrow(() -> new StorageException(new StorageError.VdiDoesNotExist(vdi)));
        String id = MirrorId.of(sr, vdi);
        if (live.containsKey(id)) {
            throw new StorageException(new StorageError.MigrationPreparationFailure("mirror " + id
                    + " is already being sent from here: stop it first"));
        }
        ctx.checkCancelled();
        var remote = remotes.storage(url, verifyDest).dataMirror();
        MirrorReceiveResult recv = remote.receiveStart3(dbg, dest, source, id, "", similar(local, dbg, sr, vdi),
                mirrorVm, url, verifyDest);
        try {
            ctx.checkCancelled();
        } catch (StorageException e) {
            quietly("DATA.MIRROR.receive_cancel2 on the destination", () -> remote.receiveCancel2(dbg, id, url,
                    verifyDest));
            throw e;
        }
        sendStart(new Request(dbg, dp, false, sr, vdi, "", mirrorVm, mirrorVm, id, url, recv, dest, verifyDest), ctx);
        return id;
    }

    /** A url that is not a remote endpoint's is refused before anything is made (the reason never echoes it). */
    private static void checkUrl(String call, String url) {
        try {
            org.xenstorage.migrate.remote.RemoteUrl.parse(url);
        } catch (IllegalArgumentException e) {
            throw new StorageException(new StorageError.MigrationPreparationFailure(call + ": the destination "
                    + e.getMessage()));
        }
    }

    /** The send with this id, if this run has one. */
    public Optional<SendRecord> send(String id) {
        Live l = live.get(id);
        return l == null ? Optional.empty() : Optional.of(l.record);
    }

    /**
     * Sends a crashed run left: the destination's receive cancelled, the sender's datapath destroyed (leaks
     * allowed), the tunnel's socket directory removed, the records dropped. The plugin's mirror lost its target
     * with the old process's tunnel; it fails and is removed when its volume is deactivated.
     */
    public int reclaim(String dbg) {
        List<SendRecord> stale = records.staleSends();
        for (SendRecord r : stale) {
            LOG.info("reclaiming mirror send {} left by a previous run", r.id());
            quietly("DATA.MIRROR.receive_cancel2 on the destination", () -> remotes.storage(r.url(), r.verifyDest())
                    .dataMirror().receiveCancel2(dbg, r.id(), r.url(), r.verifyDest()));
            if (r.ownsDp()) {
                quietly("DP.destroy2 " + r.localDp(), () -> local.dp().destroy2(dbg, r.localDp(), r.sr(), r.vdi(),
                        DOM0, true));
            }
            if (!r.tunnelDir().isEmpty()) {
                quietly("removing " + r.tunnelDir(), () -> removeTunnelDir(Path.of(r.tunnelDir())));
            }
        }
        records.forgetStale(stale, List.of());
        return stale.size();
    }

    private static void removeTunnelDir(Path dir) {
        try {
            Files.deleteIfExists(dir.resolve("nbd"));
            Files.deleteIfExists(dir);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** The content ids a destination may base its copy on (upstream's similar list: non-empty ids). */
    static List<String> similar(StorageService local, String dbg, String sr, String vdi) {
        List<String> out = new ArrayList<>();
        try {
            for (VdiInfo v : local.vdi().similarContent(dbg, sr, vdi)) {
                if (!v.contentId().isEmpty()) {
                    out.add(v.contentId());
                }
            }
        } catch (StorageException e) {
            if (!(e.error() instanceof StorageError.Unimplemented)) {
                throw e;
            }
        }
        return out;
    }

    private static void quietly(String what, Runnable step) {
        MirrorReceiver.quietly(what, step);
    }
}
