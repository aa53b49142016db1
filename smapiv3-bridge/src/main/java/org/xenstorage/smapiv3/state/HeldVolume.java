package org.xenstorage.smapiv3.state;

import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import org.xenstorage.idl.automaton.VdiAutomaton;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.DpState;

/**
 * What the datapaths of one host hold of one volume (an SMAPIv3 VDI), as the SMAPIv1 wrapper keeps it for
 * an SM VDI: each holder's automaton state, and the one attachment the datapath plugin made for all of them.
 *
 * @param sr      the SR's v2 uuid
 * @param vdi     the VDI (volume key)
 * @param domain  the Datapath {@code domain} the plugin attachment was made for (the first holder's); every
 *                later plugin call for this volume uses it, so the plugin sees one user
 * @param backend what {@code Datapath.attach} answered; empty until it has (a crash can leave a holder
 *                recorded before the plugin answered)
 * @param holders datapath name to its holder
 */
public record HeldVolume(String sr, String vdi, String domain, Optional<Backend> backend, Map<String, Holder> holders) {
    public HeldVolume {
        Objects.requireNonNull(sr, "sr");
        Objects.requireNonNull(vdi, "vdi");
        Objects.requireNonNull(domain, "domain");
        Objects.requireNonNull(backend, "backend");
        holders = Map.copyOf(holders);
    }

    /** One datapath's hold: the vm it named and its automaton state (never Detached: then it is no holder). */
    public record Holder(String vm, DpState state) {
        public Holder {
            Objects.requireNonNull(vm, "vm");
            Objects.requireNonNull(state, "state");
        }
    }

    /** A volume nobody holds yet; its plugin attachment will be made for {@code domain}. */
    public static HeldVolume unheld(String sr, String vdi, String domain) {
        return new HeldVolume(sr, vdi, domain, Optional.empty(), Map.of());
    }

    /** The state of {@code dp}: Detached when it is no holder. */
    public DpState stateOf(String dp) {
        Holder h = holders.get(dp);
        return h == null ? DpState.DETACHED : h.state();
    }

    /** What the plugin attachment must be, given every holder. */
    public DpState superstate() {
        return VdiAutomaton.superstate(holders.values().stream().map(Holder::state).toList());
    }

    /** This record with {@code dp} moved to {@code state} (Detached removes it). */
    public HeldVolume withDp(String dp, String vm, DpState state) {
        Map<String, Holder> next = new TreeMap<>(holders);
        if (state instanceof DpState.Detached) {
            next.remove(dp);
        } else {
            next.put(dp, new Holder(vm, state));
        }
        return new HeldVolume(sr, vdi, domain, backend, next);
    }

    public HeldVolume withBackend(Backend b) {
        return new HeldVolume(sr, vdi, domain, Optional.of(b), holders);
    }

    public boolean isHeld() {
        return !holders.isEmpty();
    }
}
