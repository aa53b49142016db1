package org.xenstorage.idl.automaton;

import java.util.List;
import java.util.Objects;
import org.xenstorage.idl.types.RoRw;

/**
 * {@code Vdi_automaton.op}: one thing a datapath can ask of a VDI. Never on the wire; its
 * {@link #text()} is what logs and error texts show.
 */
public sealed interface Op {
    Op NOTHING = new Nothing();
    Op DETACH = new Detach();
    Op ACTIVATE = new Activate();
    Op DEACTIVATE = new Deactivate();
    Op ATTACH_RO = new Attach(RoRw.RO);
    Op ATTACH_RW = new Attach(RoRw.RW);

    /** Every op, {@code Attach RO} and {@code Attach RW} counted separately (upstream's {@code every_op}). */
    List<Op> EVERY = List.of(NOTHING, ATTACH_RO, ATTACH_RW, DETACH, ACTIVATE, DEACTIVATE);

    /** Upstream's {@code string_of_op}. */
    String text();

    /**
     * How OCaml's default exception printer shows this value inside {@code Bad_transition(..)}:
     * constant constructors print as their index, constructors with an argument as {@code _}.
     */
    String ocamlRepr();

    /** Attach/activate: ops that bring a VDI up (they never tear anything down). */
    default boolean bringsUp() {
        return this instanceof Attach || this instanceof Activate;
    }

    static Op attach(RoRw mode) {
        return mode == RoRw.RW ? ATTACH_RW : ATTACH_RO;
    }

    /** No change. */
    record Nothing() implements Op {
        public String text() {
            return "nothing";
        }

        public String ocamlRepr() {
            return "0";
        }
    }

    /** Attach in the given mode. */
    record Attach(RoRw mode) implements Op {
        public Attach {
            Objects.requireNonNull(mode, "mode");
        }

        public String text() {
            return "attach(" + mode + ")";
        }

        public String ocamlRepr() {
            return "_";
        }
    }

    /** Detach an attached (not activated) VDI. */
    record Detach() implements Op {
        public String text() {
            return "detach";
        }

        public String ocamlRepr() {
            return "1";
        }
    }

    /** Activate an attached VDI. */
    record Activate() implements Op {
        public String text() {
            return "activate";
        }

        public String ocamlRepr() {
            return "2";
        }
    }

    /** Deactivate an activated VDI. */
    record Deactivate() implements Op {
        public String text() {
            return "deactivate";
        }

        public String ocamlRepr() {
            return "3";
        }
    }
}
