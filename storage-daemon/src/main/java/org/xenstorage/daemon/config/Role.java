package org.xenstorage.daemon.config;

/** What this process serves. */
public enum Role {
    /** The mux plus every enabled backend (the default). */
    ALL,
    /** Only the SMAPIv3 bridge (for running it as its own process beside a mux elsewhere). */
    SMAPIV3_BRIDGE
}
