package org.xenstorage.daemon.remote;

import org.xenstorage.migrate.remote.RemoteNbdPath;

/**
 * Told when another host's NBD connection through the endpoint starts relaying to a datapath's export, and when it
 * ends. The daemon uses it to notice a live mirror's sender dying mid-mirror. Called on an event loop: must not
 * block.
 */
public interface NbdSessionListener {
    /** Nobody listens. */
    NbdSessionListener NONE = (target, connected) -> { };

    /** {@code connected}: the upgrade was answered and bytes flow; else the connection ended. */
    void session(RemoteNbdPath target, boolean connected);
}
