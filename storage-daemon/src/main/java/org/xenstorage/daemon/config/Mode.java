package org.xenstorage.daemon.config;

/** Where the daemon runs. */
public enum Mode {
    /** A plain machine: the daemon starts the embedded broker and uses the example drivers/plugins. */
    EMBEDDED,
    /** A XenServer/XCP-ng host: connect to the host's message-switch, use the installed drivers/plugins. */
    HOST
}
