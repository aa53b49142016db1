package org.xenstorage.idl.automaton;

import java.util.Collection;
import java.util.List;
import java.util.Optional;
import org.xenstorage.idl.types.DpState;
import org.xenstorage.idl.types.DpState.Activated;
import org.xenstorage.idl.types.DpState.Attached;
import org.xenstorage.idl.types.RoRw;

/**
 * The VDI automaton (spec section 1): pure functions over {@link DpState} and {@link Op}.
 * <ul>
 *   <li>{@link #plus}: the state one datapath moves to;</li>
 *   <li>{@link #superstate}: what the backend must be, given every datapath's state;</li>
 *   <li>{@link #minus}: the ops that move the backend from one superstate to another.</li>
 * </ul>
 */
public final class VdiAutomaton {
    /** The five states (upstream's {@code every_state}). */
    public static final List<DpState> EVERY_STATE = List.of(DpState.DETACHED,
            new Attached(RoRw.RO), new Attached(RoRw.RW), new Activated(RoRw.RO), new Activated(RoRw.RW));

    private VdiAutomaton() {
    }

    /** {@code state + op} (spec 1.2); throws {@link BadTransition} for the ILLEGAL cells. */
    public static DpState plus(DpState state, Op op) {
        if (op instanceof Op.Nothing) {
            return state;
        }
        if (op instanceof Op.Attach a) {
            if (state instanceof Attached at) {
                return new Attached(merge(state, at.mode(), op, a.mode()));
            }
            if (state instanceof Activated ac) {
                return new Activated(merge(state, ac.mode(), op, a.mode()));
            }
            return new Attached(a.mode());
        }
        if (op instanceof Op.Activate) {
            if (state instanceof Attached at) {
                return new Activated(at.mode());
            }
            if (state instanceof Activated) {
                return state;
            }
            throw new BadTransition(state, op);
        }
        if (op instanceof Op.Detach) {
            if (state instanceof Activated) {
                throw new BadTransition(state, op);
            }
            return DpState.DETACHED;
        }
        // Deactivate
        return state instanceof Activated ac ? new Attached(ac.mode()) : state;
    }

    /** A holder may be asked again in its own mode, or RO when it has RW, but never upgraded RO to RW. */
    private static RoRw merge(DpState state, RoRw current, Op op, RoRw requested) {
        if (current == RoRw.RO && requested == RoRw.RW) {
            throw new BadTransition(state, op);
        }
        return current;
    }

    /**
     * The backend's state given every datapath's view (spec 1.3): RW if any holder is RW, activated if
     * any holder is activated. {@code Detached} entries are ignored (QUIRK fix: upstream turns a
     * non-empty list of only Detached into Attached RO; that list never occurs in the wrapper).
     */
    public static DpState superstate(Collection<DpState> states) {
        boolean any = false;
        boolean rw = false;
        boolean activated = false;
        for (DpState s : states) {
            Optional<RoRw> mode = mode(s);
            if (mode.isPresent()) {
                any = true;
                rw |= mode.get() == RoRw.RW;
                activated |= s instanceof Activated;
            }
        }
        if (!any) {
            return DpState.DETACHED;
        }
        RoRw mode = rw ? RoRw.RW : RoRw.RO;
        return activated ? new Activated(mode) : new Attached(mode);
    }

    /**
     * {@code x - y} (spec 1.4): the ops, in order, that move the backend from superstate x to y.
     * Throws {@link NoOperation} when the mode would have to change while the VDI stays attached.
     */
    public static List<Step> minus(DpState x, DpState y) {
        if (x.equals(y)) {
            return List.of(new Step(Op.NOTHING, x));
        }
        Optional<RoRw> xm = mode(x);
        Optional<RoRw> ym = mode(y);
        if (xm.isEmpty()) {
            RoRw m = ym.orElseThrow();
            return y instanceof Activated
                    ? List.of(new Step(Op.attach(m), x), new Step(Op.ACTIVATE, new Attached(m)))
                    : List.of(new Step(Op.attach(m), x));
        }
        if (ym.isEmpty()) {
            return x instanceof Activated
                    ? List.of(new Step(Op.DEACTIVATE, x), new Step(Op.DETACH, new Attached(xm.get())))
                    : List.of(new Step(Op.DETACH, x));
        }
        // Both attached and different: only activation may change, never the mode.
        if (!xm.equals(ym) || x.getClass() == y.getClass()) {
            throw new NoOperation(x, y);
        }
        return List.of(new Step(x instanceof Activated ? Op.DEACTIVATE : Op.ACTIVATE, x));
    }

    /** The ops of {@link #minus} without their fall-back states. */
    public static List<Op> ops(DpState x, DpState y) {
        return minus(x, y).stream().map(Step::op).toList();
    }

    /** Upstream's {@code string_of_state}: note the two spaces in {@code "attached  RO"}. */
    public static String text(DpState s) {
        if (s instanceof Attached a) {
            return "attached  " + a.mode();
        }
        if (s instanceof Activated a) {
            return "activated " + a.mode();
        }
        return "detached";
    }

    /** The mode of an attached or activated state; empty for Detached. */
    public static Optional<RoRw> mode(DpState s) {
        if (s instanceof Attached a) {
            return Optional.of(a.mode());
        }
        if (s instanceof Activated a) {
            return Optional.of(a.mode());
        }
        return Optional.empty();
    }

    static String ocamlRepr(DpState s) {
        return mode(s).isPresent() ? "_" : "0";
    }
}
