package org.xenstorage.migrate.remote;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.rpc.StorageClient;

/**
 * How this daemon reaches another host's storage daemon, for a copy or a live mirror: SMAPIv2 through {@link RemoteStorage} (a
 * {@code Redirect(ip)} answer followed once, {@link RedirectingTransport}) and a remote datapath's NBD export through
 * an {@link NbdTunnel} under a private directory.
 *
 * <p>TLS ({@code https} URLs only): with {@code verify_dest} the endpoint's certificate must chain to the trusted
 * certificates ({@code trustedCertificates}, the daemon's {@code remote-ca-bundle}; the JDK's CAs when there is none)
 * and name the host; without it the traffic is encrypted and any certificate is taken, as upstream.
 */
public final class RemoteConnector implements RemoteDaemons {
    private final Optional<Path> trustedCertificates;
    private final Path tunnelDir;
    private final RemoteStorage.Options rpcOptions;
    private final NbdTunnel.Options tunnelOptions;

    /**
     * @param trustedCertificates PEM certificates that {@code verify_dest} verifies against (empty: the JDK's CAs)
     * @param tunnelDir           a private directory for the tunnels' sockets (made if missing) (keep the path short)
     * @param rpcOptions          timeouts of the SMAPIv2 calls
     * @param tunnelOptions       timeouts of the NBD upgrade
     */
    public RemoteConnector(Optional<Path> trustedCertificates, Path tunnelDir, RemoteStorage.Options rpcOptions,
                           NbdTunnel.Options tunnelOptions) {
        this.trustedCertificates = Objects.requireNonNull(trustedCertificates, "trustedCertificates");
        this.tunnelDir = Objects.requireNonNull(tunnelDir, "tunnelDir");
        this.rpcOptions = Objects.requireNonNull(rpcOptions, "rpcOptions");
        this.tunnelOptions = Objects.requireNonNull(tunnelOptions, "tunnelOptions");
    }

    /** How the endpoint's certificate is checked for this {@code verify_dest}. */
    public RemoteTls tls(boolean verifyDest) {
        if (!verifyDest) {
            return RemoteTls.unverified();
        }
        if (trustedCertificates.isEmpty()) {
            return RemoteTls.systemTrust();
        }
        try {
            return RemoteTls.trustingPem(trustedCertificates.get());
        } catch (IOException | RuntimeException e) {
            throw StorageException.internal("cannot read the trusted certificates (remote-ca-bundle) "
                    + trustedCertificates.get() + ": " + e.getMessage());
        }
    }

    /** SMAPIv2 on the daemon at {@code url}, following a {@code Redirect} once. */
    public StorageService storage(RemoteUrl url, boolean verifyDest) {
        RemoteTls tls = tls(verifyDest);
        return StorageClient.of(new RedirectingTransport(url, u -> RemoteStorage.transport(u, tls, rpcOptions)));
    }

    /** A local Unix socket reaching {@code target}'s NBD export on {@code url}'s endpoint. */
    public NbdTunnel tunnel(RemoteUrl url, boolean verifyDest, RemoteNbdPath target) throws IOException {
        java.nio.file.Files.createDirectories(tunnelDir);
        return NbdTunnel.open(url, tls(verifyDest), target, tunnelDir, tunnelOptions);
    }

    @Override
    public StorageService storage(String url, boolean verifyDest) {
        return storage(RemoteUrl.parse(url), verifyDest);
    }

    @Override
    public NbdTunnel tunnel(String url, boolean verifyDest, RemoteNbdPath target) throws IOException {
        return tunnel(RemoteUrl.parse(url), verifyDest, target);
    }
}
