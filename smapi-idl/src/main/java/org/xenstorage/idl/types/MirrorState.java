package org.xenstorage.idl.types;

/** {@code Mirror.state}. */
public enum MirrorState {
    Receiving, Sending, Copying
}
