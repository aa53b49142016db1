package org.xenstorage.idl.automaton;

import org.xenstorage.idl.types.DpState;

/** No sequence of ops moves the backend from {@code from} to {@code to} (spec 1.4 ILLEGAL: a mode change). */
public final class NoOperation extends RuntimeException {
    private final transient DpState from;
    private final transient DpState to;

    public NoOperation(DpState from, DpState to) {
        super("Vdi_automaton.No_operation(" + VdiAutomaton.text(from) + ", " + VdiAutomaton.text(to) + ")");
        this.from = from;
        this.to = to;
    }

    public DpState from() {
        return from;
    }

    public DpState to() {
        return to;
    }
}
