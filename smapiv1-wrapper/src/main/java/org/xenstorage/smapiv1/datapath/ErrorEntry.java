package org.xenstorage.smapiv1.datapath;

import java.util.Objects;

/**
 * One failure of a datapath operation, kept for {@code DP.diagnostics} (spec 2.1 {@code Errors}).
 *
 * @param time seconds since the epoch, as upstream's float
 */
public record ErrorEntry(String dp, double time, String sr, String vdi, String error) {
    public ErrorEntry {
        Objects.requireNonNull(dp, "dp");
        Objects.requireNonNull(sr, "sr");
        Objects.requireNonNull(vdi, "vdi");
        Objects.requireNonNull(error, "error");
    }
}
