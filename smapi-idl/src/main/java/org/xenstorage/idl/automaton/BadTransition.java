package org.xenstorage.idl.automaton;

import org.xenstorage.idl.types.DpState;

/** {@code state + op} is not allowed for one datapath (spec 1.2 ILLEGAL). */
public final class BadTransition extends RuntimeException {
    private final transient DpState state;
    private final transient Op op;

    public BadTransition(DpState state, Op op) {
        super("Vdi_automaton.Bad_transition(" + VdiAutomaton.ocamlRepr(state) + ", " + op.ocamlRepr() + ")");
        this.state = state;
        this.op = op;
    }

    public DpState state() {
        return state;
    }

    public Op op() {
        return op;
    }
}
