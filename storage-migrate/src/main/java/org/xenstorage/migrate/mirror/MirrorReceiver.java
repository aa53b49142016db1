package org.xenstorage.migrate.mirror;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.Implementation;
import org.xenstorage.idl.types.MirrorReceiveResult;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.migrate.remote.NbdExport;

/**
 * The destination side of a live mirror (upstream's SMAPIv3 receive, {@code storage_smapiv3_migrate}): a fresh
 * VDI attached read-write and activated on a datapath of its own, whose NBD export the sender's plugin mirrors
 * into through this daemon's remote endpoint. Only an SR whose attach serves NBD (a SMAPIv3 plugin such as
 * simplefile with {@code datapath=qdisk}) can receive; anything else is refused with everything undone.
 */
public final class MirrorReceiver {
    private static final Logger LOG = LoggerFactory.getLogger(MirrorReceiver.class);
    /** The sm_config key that marks a VDI as a mirror's destination until it is finalized (upstream's). */
    public static final String BASE_MIRROR = "base_mirror";

    /**
     * How long a receive may be without its sender's NBD connection before it counts as failed: after a clean
     * switch-over the sender's {@code receive_finalize3} follows its disconnect within this.
     */
    public static final Duration SENDER_GRACE = Duration.ofSeconds(5);

    private final StorageService local;
    private final MirrorRecords records;
    private final Duration senderGrace;
    private final LongSupplier nanoClock;
    /** Per receive id: the sender's NBD connections open now, and when the last one ended (absent: never). */
    private final Map<String, SenderLink> senders = new ConcurrentHashMap<>();

    private record SenderLink(int open, OptionalLong endedAt) {
    }

    /**
     * @param local   this daemon's SRs (the mux)
     * @param records where receives are recorded
     */
    public MirrorReceiver(StorageService local, MirrorRecords records) {
        this(local, records, SENDER_GRACE, System::nanoTime);
    }

    /** As above, with the grace before a receive without its sender counts as failed, and the clock (tests). */
    public MirrorReceiver(StorageService local, MirrorRecords records, Duration senderGrace, LongSupplier nanoClock) {
        this.local = Objects.requireNonNull(local, "local");
        this.records = Objects.requireNonNull(records, "records");
        this.senderGrace = Objects.requireNonNull(senderGrace, "senderGrace");
        this.nanoClock = Objects.requireNonNull(nanoClock, "nanoClock");
    }

    /**
     * The sender's NBD connection to the export of datapath {@code dp} in {@code sr} opened (the remote endpoint
     * tells): a receive on that datapath has its sender.
     */
    public void senderConnected(String sr, String dp) {
        receiveOn(sr, dp).ifPresent(r -> senders.merge(r.id(), new SenderLink(1, OptionalLong.empty()),
                (a, b) -> new SenderLink(a.open() + 1, OptionalLong.empty())));
    }

    /**
     * That connection ended. Unless {@code receive_finalize3} or {@code receive_cancel2} (or a new connection)
     * follows within the grace, the receive is reported failed: its sender died or lost the network mid-mirror.
     */
    public void senderDisconnected(String sr, String dp) {
        receiveOn(sr, dp).ifPresent(r -> {
            SenderLink now = senders.compute(r.id(), (id, l) -> {
                int open = l == null ? 0 : Math.max(0, l.open() - 1);
                return new SenderLink(open, open == 0 ? OptionalLong.of(nanoClock.getAsLong()) : OptionalLong.empty());
            });
            if (now.open() == 0) {
                LOG.info("mirror {}: the sender's NBD connection to {}/{} ended; unless receive_finalize3 or "
                        + "receive_cancel2 follows within {} s, the receive is reported failed", r.id(), r.sr(),
                        r.leafVdi(), senderGrace.toSeconds());
            }
        });
    }

    /** Whether receive {@code id} lost its sender: no NBD connection for longer than the grace. */
    public boolean senderLost(String id) {
        SenderLink l = senders.get(id);
        return l != null && l.open() == 0 && l.endedAt().isPresent() && records.receive(id).isPresent()
                && nanoClock.getAsLong() - l.endedAt().getAsLong() >= senderGrace.toNanos();
    }

    private Optional<ReceiveRecord> receiveOn(String sr, String dp) {
        return records.receives().stream().filter(r -> r.sr().equals(sr) && r.leafDp().equals(dp)).findFirst();
    }

    /**
     * {@code DATA.MIRROR.receive_start3}: VDI.create in {@code sr} from {@code vdiInfo} with sm_config
     * {@code base_mirror=<id>} (upstream replaces the whole sm_config so), VDI.attach3 read-write and
     * VDI.activate3 on a fresh datapath for {@code vm}, recorded before answering {@code SMAPIv3_mirror}. On any
     * failure what was made is destroyed and the record dropped.
     */
    public MirrorReceiveResult receiveStart3(String dbg, String sr, VdiInfo vdiInfo, String id, String vm) {
        MirrorId.parse(id); // a malformed id is refused before anything is made
        if (records.receive(id).isPresent()) {
            throw new StorageException(new StorageError.MigrationPreparationFailure("a mirror " + id
                    + " is already being received here: receive_cancel2 it first"));
        }
        String dp = UUID.randomUUID().toString();
        VdiInfo wanted = vdiInfo.withSmConfig(Map.of(BASE_MIRROR, id));
        VdiInfo created = local.vdi().create(dbg, sr, wanted);
        VdiInfo leaf = created;
        ReceiveRecord r = new ReceiveRecord(id, sr, created.vdi(), dp, vdiInfo.vdi(), vm);
        try {
            records.putReceive(r);
            if (!id.equals(leaf.smConfig().get(BASE_MIRROR))) {
                // a SMAPIv3 VDI.create keeps no sm_config (upstream's neither): set the mark explicitly
                local.vdi().addToSmConfig(dbg, sr, leaf.vdi(), BASE_MIRROR, id);
                Map<String, String> marked = new java.util.HashMap<>(leaf.smConfig());
                marked.put(BASE_MIRROR, id);
                leaf = leaf.withSmConfig(marked);
            }
            Backend backend = local.vdi().attach3(dbg, dp, sr, leaf.vdi(), vm, true);
            Optional<NbdExport> export = NbdExport.of(backend);
            if (export.isEmpty()) {
                throw StorageException.unimplemented("DATA.MIRROR.receive_start3 into SR " + sr + ": its attach "
                        + "offers " + kinds(backend) + ", no NBD export; a live mirror is received only by an SR "
                        + "whose datapath serves NBD (a SMAPIv3 SR such as simplefile with datapath=qdisk). "
                        + "SMAPIv1 SRs are mirrored through tapdisk upstream, which Debian does not have");
            }
            local.vdi().activate3(dbg, dp, sr, leaf.vdi(), vm);
            LOG.info("receiving mirror {} into {}/{} on datapath {} (export {})", id, sr, leaf.vdi(), dp,
                    export.get().exportName());
            return new MirrorReceiveResult.Smapiv3Mirror(new MirrorReceiveResult.Smapiv3(leaf, dp,
                    export.get().exportName()));
        } catch (RuntimeException e) {
            LOG.warn("receive_start3 {} failed ({}): undoing", id, e.getMessage());
            quietly("DP.destroy2 " + dp, () -> local.dp().destroy2(dbg, dp, sr, created.vdi(), vm, false));
            quietly("VDI.destroy " + created.vdi(), () -> local.vdi().destroy(dbg, sr, created.vdi()));
            records.removeReceive(id);
            throw e;
        }
    }

    private static String kinds(Backend b) {
        List<String> out = new ArrayList<>();
        for (Implementation i : b.implementations()) {
            String k = i.getClass().getSimpleName();
            if (!out.contains(k)) {
                out.add(k);
            }
        }
        return out.isEmpty() ? "nothing" : String.join(", ", out);
    }

    /**
     * {@code DATA.MIRROR.receive_finalize3} (upstream's): DP.destroy2 of the leaf's datapath (deactivate and
     * detach: the plugin flushes the volume), {@code base_mirror} removed, the record dropped. An unknown id does
     * nothing. A failing step is answered and the record kept, so the call can be repeated.
     */
    public void receiveFinalize(String dbg, String id) {
        Optional<ReceiveRecord> found = records.receive(id);
        if (found.isEmpty()) {
            LOG.debug("receive_finalize {}: no receive state", id);
            return;
        }
        ReceiveRecord r = found.get();
        local.dp().destroy2(dbg, r.leafDp(), r.sr(), r.leafVdi(), r.vm(), false);
        local.vdi().removeFromSmConfig(dbg, r.sr(), r.leafVdi(), BASE_MIRROR);
        records.removeReceive(id);
        senders.remove(id);
        LOG.info("mirror {} received: {}/{} is the migrated VDI", id, r.sr(), r.leafVdi());
    }

    /**
     * {@code DATA.MIRROR.receive_cancel2} (upstream's): the leaf's datapath and the leaf VDI destroyed (each step
     * tried, failures logged), the record dropped. An unknown id does nothing.
     */
    public void receiveCancel(String dbg, String id) {
        Optional<ReceiveRecord> found = records.receive(id);
        if (found.isEmpty()) {
            LOG.debug("receive_cancel {}: no receive state", id);
            return;
        }
        tearDown(dbg, found.get(), false);
        records.removeReceive(id);
        senders.remove(id);
        LOG.info("mirror {} receive cancelled: {}/{} destroyed", id, found.get().sr(), found.get().leafVdi());
    }

    private void tearDown(String dbg, ReceiveRecord r, boolean allowLeak) {
        quietly("DP.destroy2 " + r.leafDp(), () -> local.dp().destroy2(dbg, r.leafDp(), r.sr(), r.leafVdi(), r.vm(),
                allowLeak));
        quietly("VDI.destroy " + r.leafVdi(), () -> local.vdi().destroy(dbg, r.sr(), r.leafVdi()));
    }

    /** Receives a crashed run left: leaf datapath and VDI destroyed (leaks allowed), records dropped. */
    public int reclaim(String dbg) {
        List<ReceiveRecord> stale = records.staleReceives();
        for (ReceiveRecord r : stale) {
            LOG.info("reclaiming mirror receive {} left by a previous run: {}/{}", r.id(), r.sr(), r.leafVdi());
            tearDown(dbg, r, true);
        }
        records.forgetStale(List.of(), stale);
        return stale.size();
    }

    static void quietly(String what, Runnable step) {
        try {
            step.run();
        } catch (RuntimeException e) {
            LOG.warn("clean-up step {} failed: {}", what, e.getMessage());
        }
    }
}
