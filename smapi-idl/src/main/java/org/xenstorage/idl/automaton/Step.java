package org.xenstorage.idl.automaton;

import java.util.Objects;
import org.xenstorage.idl.types.DpState;

/**
 * One element of {@code x - y}: the op to run and the state the backend is in if it fails.
 * The wrapper, like upstream's, does not use {@code stateOnFail}; it is kept so the table is complete.
 */
public record Step(Op op, DpState stateOnFail) {
    public Step {
        Objects.requireNonNull(op, "op");
        Objects.requireNonNull(stateOnFail, "stateOnFail");
    }
}
