package org.xenstorage.idl.types;

import java.util.List;
import java.util.Objects;
import org.xenstorage.idl.wire.WireTuple;

/** {@code (vdi_info list * sr_info)}: the result of {@code SR.scan2}. */
@WireTuple
public record Scan2Result(List<VdiInfo> vdis, SrInfo sr) {
    public Scan2Result {
        vdis = List.copyOf(vdis);
        Objects.requireNonNull(sr);
    }
}
