package org.xenstorage.smapiv1.datapath;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.DpState;
import org.xenstorage.idl.automaton.VdiAutomaton;

/**
 * What the wrapper knows of one VDI of an attached SR (spec 2.1). Immutable: every change makes a new
 * record, so a failed step can simply keep the old one.
 *
 * @param attachInfo  the backend the SM attach returned; absent until an attach succeeded (or after a
 *                    crash recovery that could not know it)
 * @param holders     the datapaths holding the VDI, most recently touched first; never Detached
 * @param leaked      datapaths whose teardown failed, most recent first; retried before the next op
 * @param unconfirmed set by crash recovery when an SM call's outcome is unknown: the backend may be
 *                    below the recorded superstate, so the next bring-up op re-runs the SM ops from
 *                    Detached to the superstate first (our extension, see docs/smapiv1-state.md)
 */
public record VdiRecord(Optional<Backend> attachInfo, List<Holder> holders, List<String> leaked,
                        boolean unconfirmed) {
    /** The record of a VDI nobody holds. */
    public static final VdiRecord EMPTY = new VdiRecord(Optional.empty(), List.of(), List.of(), false);

    public VdiRecord {
        Objects.requireNonNull(attachInfo, "attachInfo");
        holders = List.copyOf(holders);
        leaked = List.copyOf(leaked);
        for (Holder h : holders) {
            if (h.state() instanceof DpState.Detached) {
                throw new IllegalArgumentException("a Detached datapath is never stored: " + h.dp());
            }
        }
    }

    /** This datapath's state; Detached when it does not hold the VDI. */
    public DpState stateOf(String dp) {
        return holder(dp).map(Holder::state).orElse(DpState.DETACHED);
    }

    public Optional<Holder> holder(String dp) {
        return holders.stream().filter(h -> h.dp().equals(dp)).findFirst();
    }

    /** The VDI's real state: the superstate over every holder. */
    public DpState superstate() {
        return VdiAutomaton.superstate(holders.stream().map(Holder::state).toList());
    }

    /** Upstream's {@code add_or_update_dp}: drop the dp, then put it first unless it is now Detached. */
    public VdiRecord withDp(String dp, String vm, DpState state) {
        List<Holder> next = new ArrayList<>(holders.size() + 1);
        if (!(state instanceof DpState.Detached)) {
            next.add(new Holder(dp, state, vm));
        }
        holders.stream().filter(h -> !h.dp().equals(dp)).forEach(next::add);
        return new VdiRecord(attachInfo, next, leaked, unconfirmed);
    }

    public VdiRecord withoutDp(String dp) {
        return withDp(dp, "", DpState.DETACHED);
    }

    public VdiRecord withAttachInfo(Backend backend) {
        return new VdiRecord(Optional.of(backend), holders, leaked, unconfirmed);
    }

    /** Marks {@code dp} leaked, moving it to the front. */
    public VdiRecord withLeaked(String dp) {
        List<String> next = new ArrayList<>(leaked.size() + 1);
        next.add(dp);
        leaked.stream().filter(d -> !d.equals(dp)).forEach(next::add);
        return new VdiRecord(attachInfo, holders, next, unconfirmed);
    }

    public VdiRecord withoutLeaked(String dp) {
        return new VdiRecord(attachInfo, holders, leaked.stream().filter(d -> !d.equals(dp)).toList(), unconfirmed);
    }

    public VdiRecord withUnconfirmed(boolean value) {
        return new VdiRecord(attachInfo, holders, leaked, value);
    }

    /** True when nobody holds the VDI any more: the record is then deleted from its SR. */
    public boolean isDetached() {
        return superstate() instanceof DpState.Detached;
    }
}
