package org.xenstorage.smapiv1.datapath;

import java.util.Objects;
import org.xenstorage.idl.automaton.Op;

/**
 * A write-ahead record: "about to run SM {@code op} on (sr, vdi) for datapath {@code dp}". It is made
 * durable before the SM call and removed in the same atomic write that records the call's outcome,
 * so one still on disk at start-up means the SM call's outcome is unknown.
 */
public record Intent(long id, String sr, String vdi, String dp, String vm, Op op) {
    public Intent {
        Objects.requireNonNull(sr, "sr");
        Objects.requireNonNull(vdi, "vdi");
        Objects.requireNonNull(dp, "dp");
        Objects.requireNonNull(vm, "vm");
        Objects.requireNonNull(op, "op");
    }
}
