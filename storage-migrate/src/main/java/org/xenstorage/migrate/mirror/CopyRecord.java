package org.xenstorage.migrate.mirror;

import java.util.Objects;

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
 * @param url       the caller's destination url
 * @param vm        the VM both datapaths were attached for
 */
public record CopyRecord(String id, String task, String sourceSr, String sourceVdi, String leafDp, String remoteDp,
                         String destSr, String copyVdi, String url, String vm) {
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
}
