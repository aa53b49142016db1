package org.xenstorage.migrate.remote;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Objects;
import org.xenstorage.idl.api.StorageService;

/**
 * How a copy or a mirror reaches the other host's daemon: its SMAPIv2 over the remote endpoint, and an NBD export of one of
 * its datapaths as a local Unix socket. A seam so the sender's logic does not build HTTP clients itself.
 */
public interface RemoteDaemons {
    /** SMAPIv2 on the daemon at {@code url} (xapi's form, token in {@code session_id}). */
    StorageService storage(String url, boolean verifyDest);

    /** A local Unix socket reaching {@code target} on the daemon at {@code url}; the caller closes it. */
    NbdTunnel tunnel(String url, boolean verifyDest, RemoteNbdPath target) throws IOException;

    /**
     * {@link RemoteConnector} with the JDK's CAs for {@code verify_dest} and default timeouts, tunnels under
     * {@code tunnelParent} (keep it short: a socket path is at most 107 bytes). The daemon builds its own connector
     * (its {@code remote-ca-bundle}, its call timeout).
     */
    static RemoteDaemons over(Path tunnelParent) {
        return new RemoteConnector(java.util.Optional.empty(), Objects.requireNonNull(tunnelParent, "tunnelParent"),
                RemoteStorage.Options.defaults(), NbdTunnel.Options.defaults());
    }
}
