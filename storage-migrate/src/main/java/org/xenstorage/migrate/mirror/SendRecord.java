package org.xenstorage.migrate.mirror;

import java.util.Objects;
import java.util.Optional;

/**
 * One live mirror this host sends (upstream's {@code Send_state}): enough to report it, end it, and tear it down
 * after a crash ({@link MirrorRecords#stale}). Persisted in a private state file: {@code url} carries the remote
 * endpoint's token, so a record is never logged whole.
 *
 * @param id         {@link MirrorId} of the source VDI
 * @param sr         source SR
 * @param vdi        source VDI
 * @param localDp    the datapath of the source the mirror belongs to (upstream's {@code local_dp})
 * @param ownsDp     true when the sender attached {@code localDp} itself ({@code send_start} does, for dom0) and
 *                   so destroys it at the end; false when it is the guest's ({@code DATA.MIRROR.start})
 * @param liveVm     the VM whose disk is mirrored (the domain the plugin's mirror belongs to)
 * @param mirrorVm   the VM the destination was attached for (its NBD path names it)
 * @param url        the destination daemon's SMAPIv2 url (with its token)
 * @param verifyDest whether the destination's certificate is checked
 * @param destSr     the destination SR
 * @param remoteVdi  the destination VDI the mirror writes
 * @param remoteDp   the datapath the destination VDI is attached on there
 * @param nbdExport  the destination's NBD export name
 * @param operation  the plugin's {@code MirrorV1} id, once {@code DATA.mirror} answered
 * @param tunnelDir  the local directory of the NBD tunnel's socket ({@code ""} before it is open)
 * @param failed     set once the mirror was seen failed (kept, as upstream caches it)
 */
public record SendRecord(String id, String sr, String vdi, String localDp, boolean ownsDp, String liveVm,
                         String mirrorVm, String url, boolean verifyDest, String destSr, String remoteVdi,
                         String remoteDp, String nbdExport, Optional<String> operation, String tunnelDir, boolean failed) {
    public SendRecord {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(sr, "sr");
        Objects.requireNonNull(vdi, "vdi");
        Objects.requireNonNull(localDp, "local_dp");
        Objects.requireNonNull(liveVm, "live_vm");
        Objects.requireNonNull(mirrorVm, "mirror_vm");
        Objects.requireNonNull(url, "url");
        Objects.requireNonNull(destSr, "dest_sr");
        Objects.requireNonNull(remoteVdi, "remote_vdi");
        Objects.requireNonNull(remoteDp, "remote_dp");
        Objects.requireNonNull(nbdExport, "nbd_export");
        Objects.requireNonNull(operation, "operation");
        Objects.requireNonNull(tunnelDir, "tunnel_dir");
    }

    /** This record with the plugin's operation id. */
    public SendRecord withOperation(String op) {
        return new SendRecord(id, sr, vdi, localDp, ownsDp, liveVm, mirrorVm, url, verifyDest, destSr, remoteVdi,
                remoteDp, nbdExport, Optional.of(op), tunnelDir, failed);
    }

    /** This record with the tunnel's directory. */
    public SendRecord withTunnelDir(String dir) {
        return new SendRecord(id, sr, vdi, localDp, ownsDp, liveVm, mirrorVm, url, verifyDest, destSr, remoteVdi,
                remoteDp, nbdExport, operation, dir, failed);
    }

    /** This record marked failed. */
    public SendRecord asFailed() {
        return new SendRecord(id, sr, vdi, localDp, ownsDp, liveVm, mirrorVm, url, verifyDest, destSr, remoteVdi,
                remoteDp, nbdExport, operation, tunnelDir, true);
    }

    @Override
    public String toString() { // never the url: it carries the token
        return "SendRecord[" + id + " dp " + localDp + " -> " + destSr + "/" + remoteVdi + " dp " + remoteDp
                + (failed ? " failed" : "") + "]";
    }
}
