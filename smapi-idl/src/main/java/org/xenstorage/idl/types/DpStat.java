package org.xenstorage.idl.types;

import java.util.Map;
import java.util.Objects;

/** {@code dp_stat_t}: the VDI's superstate and each datapath's state. */
public record DpStat(DpState superstate, Map<String, DpState> dps) {
    public DpStat {
        Objects.requireNonNull(superstate, "superstate");
        dps = Copies.map(dps);
    }
}
