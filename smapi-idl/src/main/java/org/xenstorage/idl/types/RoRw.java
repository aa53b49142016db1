package org.xenstorage.idl.types;

/** {@code Vdi_automaton.ro_rw}. */
public enum RoRw {
    RO, RW
}
