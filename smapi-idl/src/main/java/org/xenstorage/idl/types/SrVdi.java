package org.xenstorage.idl.types;

import java.util.Objects;
import org.xenstorage.idl.wire.WireTuple;

/** {@code (sr * vdi_info)}: the result of the top-level {@code get_by_name}. */
@WireTuple
public record SrVdi(String sr, VdiInfo vdi) {
    public SrVdi {
        Objects.requireNonNull(sr);
        Objects.requireNonNull(vdi);
    }
}
