package org.xenstorage.migrate.mirror;

import java.util.Objects;

/**
 * One live mirror this host receives (upstream's {@code Receive_state}, SMAPIv3 form): the destination VDI and
 * the datapath it is attached and activated on, so {@code receive_finalize3}, {@code receive_cancel2} or a
 * restart's reclaim can end it.
 *
 * @param id        {@link MirrorId} of the source VDI (on the sending host)
 * @param sr        the SR the mirror is received into
 * @param leafVdi   the VDI made for the mirror (sm_config {@code base_mirror=<id>} until finalized)
 * @param leafDp    the datapath it is attached (read-write) and activated on
 * @param sourceVdi the source VDI on the sending host (upstream's {@code remote_vdi})
 * @param vm        the VM it was attached for
 */
public record ReceiveRecord(String id, String sr, String leafVdi, String leafDp, String sourceVdi, String vm) {
    public ReceiveRecord {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(sr, "sr");
        Objects.requireNonNull(leafVdi, "leaf_vdi");
        Objects.requireNonNull(leafDp, "leaf_dp");
        Objects.requireNonNull(sourceVdi, "source_vdi");
        Objects.requireNonNull(vm, "vm");
    }
}
