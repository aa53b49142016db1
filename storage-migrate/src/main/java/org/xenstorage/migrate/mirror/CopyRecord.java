package org.xenstorage.migrate.mirror;

import java.util.Objects;
import org.xenstorage.idl.wire.WireDefault;

/**
 * One DATA.copy in flight, as upstream's {@code Copy_state} records it: enough to tear it down
 * if the daemon dies mid-copy (see {@link CopyRecords#reclaim}).
 *
 * @param id        {@code copy/<sr>/<vdi>} (upstream's copy id)
 * @param task      the storage task running the copy
 * @param sourceSr  SR of the VDI being copied
 * @param sourceVdi the VDI being copied
 * @param leafDp    datapath the source is attached on (read-only)
 * @param remoteDp  datapath the destination is attached on (read-write)
 * @param destSr    destination SR
 * @param copyVdi   the destination VDI being written
 * @param url       the caller's destination url; for a copy to another host it holds the endpoint's token, so a
 *                  record is kept only in the private copy state file and {@link #toString()} hides it
 * @param vm        the VM both datapaths were attached for (the remote datapath's, for a copy to another host)
 * @param verifyDest whether the destination's TLS certificate is verified (a copy to another host over https)
 */
public record CopyRecord(String id, String task, String sourceSr, String sourceVdi, String leafDp, String remoteDp,
                         String destSr, String copyVdi, String url, String vm,
                         @WireDefault("false") boolean verifyDest) {
    /** A copy between SRs of this daemon (no TLS to verify). */
    public CopyRecord(String id, String task, String sourceSr, String sourceVdi, String leafDp, String remoteDp,
                      String destSr, String copyVdi, String url, String vm) {
        this(id, task, sourceSr, sourceVdi, leafDp, remoteDp, destSr, copyVdi, url, vm, false);
    }

    public CopyRecord {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(task, "task");
        Objects.requireNonNull(sourceSr, "source_sr");
        Objects.requireNonNull(sourceVdi, "source_vdi");
        Objects.requireNonNull(leafDp, "leaf_dp");
        Objects.requireNonNull(remoteDp, "remote_dp");
        Objects.requireNonNull(destSr, "dest_sr");
        Objects.requireNonNull(copyVdi, "copy_vdi");
        Objects.requireNonNull(url, "url");
        Objects.requireNonNull(vm, "vm");
    }

    /** Upstream's copy id for a source VDI. */
    public static String idOf(String sr, String vdi) {
        return "copy/" + sr + "/" + vdi;
    }

    /** Everything but the url's query, where a remote url carries its token. */
    @Override
    public String toString() {
        int q = url.indexOf('?');
        String shown = q < 0 ? url : url.substring(0, q) + "?(hidden)";
        return "CopyRecord[id=" + id + ", task=" + task + ", source=" + sourceSr + "/" + sourceVdi + ", leafDp=" + leafDp
                + ", remoteDp=" + remoteDp + ", dest=" + destSr + "/" + copyVdi + ", url=" + shown + ", vm=" + vm
                + ", verifyDest=" + verifyDest + "]";
    }
}
