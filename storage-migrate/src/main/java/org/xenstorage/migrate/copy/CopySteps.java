package org.xenstorage.migrate.copy;

import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.AsyncResult;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.migrate.task.TaskContext;

/**
 * The steps every {@code DATA.copy} takes around moving the bytes (spec wrapper-mux 5.1), wherever the destination
 * SR is: {@link VdiCopy} (both SRs on this daemon) and {@link RemoteVdiCopy} (the destination on another host's
 * daemon) differ only in how they reach the destination and move the bytes.
 * <ol>
 *   <li>the source from {@code SR.scan2} on the source side, missing: {@code Vdi_does_not_exist}; {@code dest} in the
 *       destination side's {@code SR.list}, else {@code Sr_not_attached}; {@code similar} = non-empty content ids
 *       of {@code VDI.similar_content} ({@code Unimplemented} means none);</li>
 *   <li>the base: a clone (resized to the source size) of the first destination VDI whose content id is similar and
 *       which is no larger ({@code cbt_metadata} left out), else a VDI created from the source's vdi_info with
 *       {@code sm_config} emptied;</li>
 *   <li>the bytes, by the {@link Mover};</li>
 *   <li>the destination's content id set to the source's and the source's re-set (either failing fails the copy),
 *       the copy re-read, snapshotted (the content id enforced on the snapshot), and destroyed; the result is the
 *       snapshot.</li>
 * </ol>
 * On any failure or cancel after step 2 the base is destroyed.
 */
final class CopySteps {
    private static final Logger LOG = LoggerFactory.getLogger(CopySteps.class);

    /** Progress is reported as {@code COPY_START + COPY_SPAN * fraction}, as upstream. */
    static final double COPY_START = 0.05;
    static final double COPY_SPAN = 0.9;

    /** Moves the bytes of {@code source} into {@code base}: attaches, copies and releases both sides. */
    interface Mover {
        void copy(VdiInfo source, VdiInfo base, boolean prezeroed);
    }

    private CopySteps() {
    }

    /**
     * Runs the copy of {@code q}: the source through {@code here}, the destination through {@code there}
     * ({@code where} names the destination's host in logs: empty for this one, a redacted url otherwise).
     */
    static Optional<AsyncResult> run(VdiCopy.Request q, TaskContext ctx, StorageService here, StorageService there,
                                     String where, Mover mover) {
        VdiInfo source = here.sr().scan2(q.dbg(), q.sr()).vdis().stream().filter(v -> v.vdi().equals(q.vdi()))
                .findFirst().orElseThrow(() -> new StorageException(new StorageError.VdiDoesNotExist(q.vdi())));
        if (!there.sr().list(q.dbg()).contains(q.dest())) {
            throw new StorageException(new StorageError.SrNotAttached(q.dest()));
        }
        List<String> similar = similarContentIds(here, q);
        Optional<VdiInfo> nearest = there.sr().scan2(q.dbg(), q.dest()).vdis().stream()
                .filter(v -> !"cbt_metadata".equals(v.ty()))
                .filter(v -> similar.contains(v.contentId()) && v.virtualSize() <= source.virtualSize())
                .min((a, b) -> Integer.compare(similar.indexOf(a.contentId()), similar.indexOf(b.contentId())));
        ctx.checkCancelled();

        VdiInfo base = nearest.isPresent() ? cloneBase(there, q, nearest.get(), source)
                : there.vdi().create(q.dbg(), q.dest(), source.withSmConfig(java.util.Map.of()));
        LOG.info("copy of {}/{} to {}SR {}: {} {}", q.sr(), q.vdi(), where.isEmpty() ? "" : where + " ", q.dest(),
                nearest.isPresent() ? "incremental onto clone" : "into new VDI", base.vdi());
        boolean ok = false;
        try {
            if (source.virtualSize() > base.virtualSize()) {
                throw StorageException.internal("source VDI " + q.vdi() + " (" + source.virtualSize()
                        + " bytes) is larger than destination VDI " + base.vdi() + " (" + base.virtualSize()
                        + " bytes)");
            }
            mover.copy(source, base, nearest.isEmpty());
            ctx.checkCancelled();
            there.vdi().setContentId(q.dbg(), q.dest(), base.vdi(), source.contentId());
            // upstream re-sets the source's id too, and a failure there fails the copy (its error as answered)
            here.vdi().setContentId(q.dbg(), q.sr(), q.vdi(), source.contentId());
            VdiInfo copied = there.vdi().stat(q.dbg(), q.dest(), base.vdi());
            VdiInfo snapshot = there.vdi().snapshot(q.dbg(), q.dest(), copied);
            if (!snapshot.contentId().equals(source.contentId())) {
                // backends that do not carry content ids into snapshots get it set explicitly
                there.vdi().setContentId(q.dbg(), q.dest(), snapshot.vdi(), source.contentId());
                snapshot = snapshot.withContentId(source.contentId());
            }
            ok = true;
            destroyQuietly(there, q.dbg(), q.dest(), base.vdi());
            return Optional.of(new AsyncResult.VdiInfoResult(snapshot));
        } finally {
            if (!ok) {
                LOG.info("copy of {}/{} failed: destroying destination {}/{}", q.sr(), q.vdi(), q.dest(), base.vdi());
                destroyQuietly(there, q.dbg(), q.dest(), base.vdi());
            }
        }
    }

    private static List<String> similarContentIds(StorageService here, VdiCopy.Request q) {
        try {
            return here.vdi().similarContent(q.dbg(), q.sr(), q.vdi()).stream()
                    .map(VdiInfo::contentId).filter(c -> !c.isEmpty()).toList();
        } catch (StorageException e) {
            if (e.error() instanceof StorageError.Unimplemented) {
                return List.of(); // SMAPIv3 plugins need not implement it: full copy
            }
            throw e;
        }
    }

    private static VdiInfo cloneBase(StorageService there, VdiCopy.Request q, VdiInfo nearest, VdiInfo source) {
        VdiInfo clone = there.vdi().clone(q.dbg(), q.dest(), nearest);
        try {
            if (clone.virtualSize() != source.virtualSize()) {
                long size = there.vdi().resize(q.dbg(), q.dest(), clone.vdi(), source.virtualSize());
                clone = clone.withSizes(size, clone.physicalUtilisation());
            }
            return clone;
        } catch (RuntimeException e) {
            destroyQuietly(there, q.dbg(), q.dest(), clone.vdi());
            throw e;
        }
    }

    static void destroyQuietly(StorageService storage, String dbg, String sr, String vdi) {
        try {
            storage.vdi().destroy(dbg, sr, vdi);
        } catch (RuntimeException e) {
            LOG.warn("could not destroy {}/{}: {}", sr, vdi, e.getMessage());
        }
    }

    /** Reports {@code 0.05 + 0.9 * fraction} to the task on every step of at least 1%, and the end. */
    static final class Progress {
        private final TaskContext ctx;
        private double reported = -1;

        Progress(TaskContext ctx) {
            this.ctx = ctx;
        }

        synchronized void fraction(double fraction) {
            if (fraction - reported >= 0.01 || (fraction == 1.0 && reported < 1.0)) {
                reported = fraction;
                ctx.progress(COPY_START + COPY_SPAN * fraction);
            }
        }
    }
}
