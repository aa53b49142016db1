package org.xenstorage.daemon.routing;

import java.util.Objects;

/**
 * The mux's own record of a datapath (upstream {@code DP_info}): where {@code dp} was attached, so
 * {@code DP.destroy} and {@code VDI.deactivate} can be routed without the caller's sr, and
 * {@code VDI.activate3} knows whether the attach was read-only.
 */
public record DpInfo(String sr, String vdi, String vm, boolean readWrite) {
    public DpInfo {
        Objects.requireNonNull(sr, "sr");
        Objects.requireNonNull(vdi, "vdi");
        Objects.requireNonNull(vm, "vm");
    }
}
