package org.xenstorage.idl.types;

import java.util.Objects;

/** {@code Vdi_automaton.state}: what one datapath (or the VDI as a whole) has done with a VDI. */
public sealed interface DpState {
    DpState DETACHED = new Detached();

    /** Not attached. */
    record Detached() implements DpState {
    }

    /** Attached read-only or read-write. */
    record Attached(RoRw mode) implements DpState {
        public Attached {
            Objects.requireNonNull(mode);
        }
    }

    /** Attached and activated. */
    record Activated(RoRw mode) implements DpState {
        public Activated {
            Objects.requireNonNull(mode);
        }
    }
}
