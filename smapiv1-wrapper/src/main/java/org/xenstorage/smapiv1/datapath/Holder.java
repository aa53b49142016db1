package org.xenstorage.smapiv1.datapath;

import java.util.Objects;
import org.xenstorage.idl.types.DpState;

/**
 * One datapath's hold on a VDI: its automaton state (never Detached when stored) and the VM it
 * belongs to. Upstream keeps these as two parallel lists ({@code dps}, {@code dpv}) with the same keys.
 */
public record Holder(String dp, DpState state, String vm) {
    public Holder {
        Objects.requireNonNull(dp, "dp");
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(vm, "vm");
    }
}
