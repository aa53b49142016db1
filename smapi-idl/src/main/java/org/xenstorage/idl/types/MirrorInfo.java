package org.xenstorage.idl.types;

import java.util.List;
import java.util.Objects;

/** {@code Mirror.t}: a storage-migration mirror as seen on this host. */
public record MirrorInfo(String sourceVdi, String destVdi, List<MirrorState> state, boolean failed) {
    public MirrorInfo {
        Objects.requireNonNull(sourceVdi, "source_vdi");
        Objects.requireNonNull(destVdi, "dest_vdi");
        state = List.copyOf(state);
    }
}
