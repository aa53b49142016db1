package org.xenstorage.migrate.copy;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CancellationException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.AsyncResult;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.migrate.mirror.CopyRecord;
import org.xenstorage.migrate.mirror.CopyRecords;
import org.xenstorage.migrate.remote.NbdTunnel;
import org.xenstorage.migrate.remote.RemoteConnector;
import org.xenstorage.migrate.remote.RemoteNbdPath;
import org.xenstorage.migrate.remote.RemoteUrl;
import org.xenstorage.migrate.task.TaskContext;

/**
 * One {@code DATA.copy} to an SR of another host's storage daemon (spec wrapper-mux 5.1), run as a task body. The
 * source is this daemon's ({@code local}, the mux); the destination is reached through the url's remote endpoint
 * ({@link RemoteConnector}):
 * <ol>
 *   <li>the source from the local {@code SR.scan2}; the remote {@code SR.list} must hold {@code dest};
 *       {@code similar} = content ids of the local {@code VDI.similar_content};</li>
 *   <li>base on the remote: a clone (resized to the source size) of the first remote VDI whose content id is
 *       similar and which is no larger, else a remote {@code VDI.create} from the source's vdi_info with
 *       {@code sm_config} emptied;</li>
 *   <li>remote {@code attach3} rw + {@code activate3} on a fresh datapath, local {@code attach3} ro +
 *       {@code activate3}; the bytes go from the source's File/BlockDevice by {@link NbdCopy} (nbdcopy) through an
 *       {@link NbdTunnel} to the remote datapath's {@code /services/SM/nbd/...} export (zeros skipped on a created
 *       base, written on a clone), progress {@code 0.05 + 0.9 * fraction}, {@code TASK.cancel} kills nbdcopy;</li>
 *   <li>whatever happens: the tunnel closed, both datapaths released (deactivate, detach, {@code DP.destroy2} as
 *       the last resort, as {@link VdiCopy} does); a remote that could not be released leaves the copy's record for
 *       the next start's reclaim;</li>
 *   <li>remote {@code set_content_id} on the copy, local re-set on the source, remote {@code stat},
 *       {@code snapshot}, {@code destroy} of the copy; the result is the remote snapshot.</li>
 * </ol>
 * On any failure or cancel after step 2 the remote VDI made for the copy is destroyed. The url's token is used
 * only to reach the endpoint: errors and logs show the url redacted.
 */
public final class RemoteVdiCopy {
    private static final Logger LOG = LoggerFactory.getLogger(RemoteVdiCopy.class);

    private final StorageService local;
    private final CopyRecords records;
    private final RemoteConnector connector;
    private final NbdCopy nbd;

    /**
     * @param local     this daemon's SRs (the mux)
     * @param records   where copies in flight are recorded (url and token included, for a restart's reclaim)
     * @param connector reaches the remote daemon
     * @param nbd       runs nbdcopy
     */
    public RemoteVdiCopy(StorageService local, CopyRecords records, RemoteConnector connector, NbdCopy nbd) {
        this.local = Objects.requireNonNull(local, "local");
        this.records = Objects.requireNonNull(records, "records");
        this.connector = Objects.requireNonNull(connector, "connector");
        this.nbd = Objects.requireNonNull(nbd, "nbd");
    }

    /** The connector, for the reclaim of remote copies a previous run left. */
    public RemoteConnector connector() {
        return connector;
    }

    /** Runs the copy; see the class comment. Throws {@link StorageException} on failure. */
    public Optional<AsyncResult> run(VdiCopy.Request q, boolean verifyDest, TaskContext ctx) {
        RemoteUrl url = parseUrl(q.url());
        StorageService remote = connector.storage(url, verifyDest);
        // the NBD path needs a vm segment; xapi always passes one, smctl's default is ""
        String vm = q.vm().isEmpty() ? "0" : q.vm();
        return CopySteps.run(q, ctx, local, remote, url.toString(), (source, base, prezeroed) ->
                copyInto(q, vm, url, verifyDest, remote, ctx, source, base, prezeroed));
    }

    /** The url as a {@link RemoteUrl}; a malformed one fails the task with the reason only (never the text). */
    public static RemoteUrl parseUrl(String url) {
        try {
            return RemoteUrl.parse(url);
        } catch (IllegalArgumentException e) {
            throw StorageException.internal("DATA.copy: " + e.getMessage());
        }
    }

    private void copyInto(VdiCopy.Request q, String vm, RemoteUrl url, boolean verifyDest, StorageService remote,
                          TaskContext ctx, VdiInfo source, VdiInfo dest, boolean prezeroed) {
        String nonce = UUID.randomUUID().toString();
        String leafDp = "copy-" + ctx.taskId() + "-src-" + nonce;
        String remoteDp = "copy-" + ctx.taskId() + "-dst-" + nonce;
        records.add(new CopyRecord(CopyRecord.idOf(q.sr(), q.vdi()), ctx.taskId(), q.sr(), q.vdi(), leafDp, remoteDp,
                q.dest(), dest.vdi(), q.url(), vm, verifyDest));
        CopyDatapath destDp = new CopyDatapath(remote, q.dbg(), remoteDp, q.dest(), dest.vdi(), vm);
        CopyDatapath srcDp = new CopyDatapath(local, q.dbg(), leafDp, q.sr(), q.vdi(), vm);
        String what = q.sr() + "/" + q.vdi() + " -> " + url + " " + q.dest() + "/" + dest.vdi();
        RuntimeException failure = null;
        NbdTunnel tunnel = null;
        try {
            Backend destBackend = destDp.attach(true);
            destDp.activate();
            Backend srcBackend = srcDp.attach(false);
            srcDp.activate();
            Path from = VdiCopy.localPath(srcBackend, q.sr(), q.vdi());
            ctx.checkCancelled();
            tunnel = connector.tunnel(url, verifyDest, RemoteNbdPath.nbd(vm, q.dest(), dest.vdi(), remoteDp));
            ctx.progress(CopySteps.COPY_START);
            NbdCopy.Running copy = nbd.startUpload(from, source.virtualSize(), NbdUri.parse(tunnel.nbdUri(destBackend)),
                    prezeroed ? NbdCopy.Destination.FRESH : NbdCopy.Destination.OVERWRITE, new TaskProgress(ctx));
            NbdCopy.Result done;
            try (TaskContext.CancelRegistration onCancel = ctx.onCancel(copy::cancel)) {
                done = copy.await();
            } catch (CancellationException e) {
                ctx.checkCancelled();
                throw StorageException.internal("DATA.copy " + what + ": the copy was stopped");
            }
            LOG.info("copied {}: {} bytes in {} ms, {} MiB/s", what, done.length(), done.elapsed().toMillis(),
                    String.format("%.1f", done.mibPerSecond()));
        } catch (IOException e) {
            failure = StorageException.internal(url.scrub("DATA.copy " + what + ": " + e.getMessage()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt(); // the daemon is stopping; await cancelled nbdcopy
            failure = StorageException.internal("DATA.copy " + what + ": interrupted");
        } catch (RuntimeException e) {
            failure = e;
        } finally {
            if (tunnel != null) {
                tunnel.close();
            }
            // both sides, whatever happened; the source first, as it was attached last
            boolean remoteReleased = true;
            for (CopyDatapath side : List.of(srcDp, destDp)) {
                RuntimeException e = side.release();
                if (e != null) {
                    remoteReleased &= side != destDp;
                    if (failure == null) {
                        failure = e;
                    } else {
                        failure.addSuppressed(e);
                    }
                }
            }
            if (remoteReleased) {
                records.remove(ctx.taskId());
            } else {
                LOG.warn("copy {}: the remote datapath {} could not be released; the next start reclaims it", what,
                        remoteDp);
                records.keepForReclaim(ctx.taskId());
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    /** The task's progress from nbdcopy's (its callback thread). */
    private static final class TaskProgress implements java.util.function.DoubleConsumer {
        private final CopySteps.Progress progress;

        TaskProgress(TaskContext ctx) {
            this.progress = new CopySteps.Progress(ctx);
        }

        @Override
        public void accept(double fraction) {
            progress.fraction(fraction);
        }
    }
}
