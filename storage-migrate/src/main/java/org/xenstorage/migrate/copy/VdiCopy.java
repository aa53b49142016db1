package org.xenstorage.migrate.copy;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.AsyncResult;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.Implementation;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.migrate.mirror.CopyRecord;
import org.xenstorage.migrate.mirror.CopyRecords;
import org.xenstorage.migrate.task.TaskContext;

/**
 * One {@code DATA.copy} between two SRs reached through the same {@link StorageService} (spec
 * wrapper-mux 5.1/5.3), run as a task body:
 * <ol>
 *   <li>find the source with {@code SR.scan2}; {@code similar} = content ids of {@code VDI.similar_content};</li>
 *   <li>base on the destination: a clone of the first destination VDI whose content id is similar and
 *       which is no larger (resized to the source size), else a blank VDI created from the source's
 *       vdi_info with {@code sm_config} emptied;</li>
 *   <li>attach+activate the destination RW and the source RO, each on its own fresh datapath, and copy
 *       the bytes with {@link SparseCopier} (skipping zeros when the base is blank, writing only the
 *       differences when it is a clone), reporting {@code 0.05 + 0.9 * fraction};</li>
 *   <li>whatever happens: deactivate, detach and destroy both datapaths;</li>
 *   <li>set the destination's content id to the source's and re-set the source's (as upstream does: either
 *       failing fails the copy), snapshot the copy, destroy the copy and return the snapshot.</li>
 * </ol>
 * On any failure or cancel after step 2, the destination VDI this copy created is destroyed.
 */
public final class VdiCopy {
    private static final Logger LOG = LoggerFactory.getLogger(VdiCopy.class);

    private final StorageService storage;
    private final CopyRecords records;
    private final Supplier<SparseCopier> copiers;

    /**
     * @param storage reaches both SRs (in the daemon, a client routed through the mux)
     * @param records where copies in flight are recorded
     * @param copiers makes one engine per copy (engines own their buffers)
     */
    public VdiCopy(StorageService storage, CopyRecords records, Supplier<SparseCopier> copiers) {
        this.storage = storage;
        this.records = records;
        this.copiers = copiers;
    }

    /** The request, as {@code DATA.copy} received it. */
    public record Request(String dbg, String sr, String vdi, String vm, String url, String dest) {
    }

    /** Runs the copy; see the class comment. Throws {@link StorageException} on failure. */
    public Optional<AsyncResult> run(Request q, TaskContext ctx) {
        return CopySteps.run(q, ctx, storage, storage, "", (source, base, prezeroed) ->
                copyInto(q, ctx, source, base, prezeroed));
    }

    private void copyInto(Request q, TaskContext ctx, VdiInfo source, VdiInfo dest, boolean prezeroed) {
        String nonce = UUID.randomUUID().toString();
        String leafDp = "copy-" + ctx.taskId() + "-src-" + nonce;
        String remoteDp = "copy-" + ctx.taskId() + "-dst-" + nonce;
        records.add(new CopyRecord(CopyRecord.idOf(q.sr(), q.vdi()), ctx.taskId(), q.sr(), q.vdi(), leafDp, remoteDp,
                q.dest(), dest.vdi(), q.url(), q.vm()));
        CopyDatapath destDp = new CopyDatapath(storage, q.dbg(), remoteDp, q.dest(), dest.vdi(), q.vm());
        CopyDatapath srcDp = new CopyDatapath(storage, q.dbg(), leafDp, q.sr(), q.vdi(), q.vm());
        RuntimeException failure = null;
        try {
            Backend destBackend = destDp.attach(true);
            destDp.activate();
            Backend srcBackend = srcDp.attach(false);
            srcDp.activate();

            Path from = localPath(srcBackend, q.sr(), q.vdi());
            Path to = localPath(destBackend, q.dest(), dest.vdi());
            ctx.checkCancelled();
            ctx.progress(CopySteps.COPY_START);
            CopyStats stats = copiers.get().copy(from, to, source.virtualSize(), prezeroed, new TaskProgress(ctx));
            LOG.info("copied {}/{} -> {}/{}: {} bytes read, {} written, {} zero bytes skipped, {} MiB/s", q.sr(),
                    q.vdi(), q.dest(), dest.vdi(), stats.bytesRead(), stats.bytesWritten(), stats.zeroBytesSkipped(),
                    String.format("%.1f", stats.mibPerSecond()));
        } catch (IOException e) {
            failure = StorageException.internal("DATA.copy " + q.sr() + "/" + q.vdi() + " -> " + q.dest() + "/"
                    + dest.vdi() + ": " + e);
        } catch (RuntimeException e) {
            failure = e;
        } finally {
            // Both sides, whatever happened before; the source first, as it was attached last.
            for (CopyDatapath side : List.of(srcDp, destDp)) {
                RuntimeException e = side.release();
                if (e != null) {
                    if (failure == null) {
                        failure = e;
                    } else {
                        failure.addSuppressed(e);
                    }
                }
            }
            records.remove(ctx.taskId());
        }
        if (failure != null) {
            throw failure;
        }
    }

    /**
     * The dom0 path of an attached VDI: the first {@code File} or {@code BlockDevice} the backend
     * offers. {@code Nbd}/{@code XenDisk}-only backends need an NBD client or a guest, which this
     * copier does not have.
     */
    static Path localPath(Backend backend, String sr, String vdi) {
        for (Implementation i : backend.implementations()) {
            String raw = null;
            if (i instanceof Implementation.File f) {
                raw = f.value().path();
            } else if (i instanceof Implementation.BlockDevice b) {
                raw = b.value().path();
            }
            if (raw != null) {
                Path p = Path.of(raw);
                if (!p.isAbsolute() || !p.normalize().equals(p)) {
                    throw StorageException.internal("attach of " + sr + "/" + vdi + " returned an unusable path "
                            + raw);
                }
                return p;
            }
        }
        List<String> kinds = backend.implementations().stream().map(i -> i.getClass().getSimpleName()).toList();
        throw StorageException.unimplemented("DATA.copy of " + sr + "/" + vdi + ": the backend offers "
                + (kinds.isEmpty() ? "no implementation" : String.join(", ", kinds))
                + "; only File and BlockDevice attachments can be copied");
    }

    /** The task's progress from the engine's, and a cancellation point. */
    private static final class TaskProgress implements CopyMonitor {
        private final TaskContext ctx;
        private final CopySteps.Progress progress;

        TaskProgress(TaskContext ctx) {
            this.ctx = ctx;
            this.progress = new CopySteps.Progress(ctx);
        }

        @Override
        public void advanced(long done, long total) {
            if (ctx.cancelRequested()) {
                ctx.checkCancelled();
            }
            progress.fraction(total == 0 ? 1.0 : (double) done / total);
        }
    }
}
