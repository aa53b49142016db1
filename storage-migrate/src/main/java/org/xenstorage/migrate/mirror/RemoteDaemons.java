package org.xenstorage.migrate.mirror;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Objects;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.migrate.remote.NbdTunnel;
import org.xenstorage.migrate.remote.RemoteNbdPath;
import org.xenstorage.migrate.remote.RemoteStorage;
import org.xenstorage.migrate.remote.RemoteTls;
import org.xenstorage.migrate.remote.RemoteUrl;

/**
 * How a mirror reaches the other host's daemon: its SMAPIv2 over the remote endpoint, and an NBD export of one of
 * its datapaths as a local Unix socket. A seam so the sender's logic does not build HTTP clients itself.
 */
public interface RemoteDaemons {
    /** SMAPIv2 on the daemon at {@code url} (xapi's form, token in {@code session_id}). */
    StorageService storage(String url, boolean verifyDest);

    /** A local Unix socket reaching {@code target} on the daemon at {@code url}; the caller closes it. */
    NbdTunnel tunnel(String url, boolean verifyDest, RemoteNbdPath target) throws IOException;

    /**
     * The real thing: {@link RemoteStorage} and {@link NbdTunnel} with {@link RemoteTls#forVerifyDest}, tunnels
     * listening in private directories under {@code tunnelParent} (keep it short: a socket path is at most 107
     * bytes).
     */
    static RemoteDaemons over(Path tunnelParent) {
        Objects.requireNonNull(tunnelParent, "tunnelParent");
        return new RemoteDaemons() {
            @Override
            public StorageService storage(String url, boolean verifyDest) {
                return RemoteStorage.connect(RemoteUrl.parse(url), RemoteTls.forVerifyDest(verifyDest));
            }

            @Override
            public NbdTunnel tunnel(String url, boolean verifyDest, RemoteNbdPath target) throws IOException {
                java.nio.file.Files.createDirectories(tunnelParent);
                return NbdTunnel.open(RemoteUrl.parse(url), RemoteTls.forVerifyDest(verifyDest), target,
                        tunnelParent);
            }
        };
    }
}
