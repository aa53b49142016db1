package org.xenstorage.daemon.config;

import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * The remote SMAPIv2 endpoint's configuration (keys {@code remote-listen}, {@code remote-token-file},
 * {@code remote-tls-cert}, {@code remote-tls-key}); present only when {@code remote-listen} is set.
 *
 * @param address   the address to listen on ({@code 127.0.0.1} unless given)
 * @param port      the TCP port (required)
 * @param tokenFile the file holding the token, the endpoint's only credential (required; private to the daemon)
 * @param tlsCert   PEM certificate chain: with {@code tlsKey}, the endpoint speaks TLS only
 * @param tlsKey    PEM private key (PKCS#8) of {@code tlsCert}
 */
public record RemoteEndpointConfig(String address, int port, Path tokenFile, Optional<Path> tlsCert,
                                   Optional<Path> tlsKey) {
    public RemoteEndpointConfig {
        Objects.requireNonNull(address, "address");
        Objects.requireNonNull(tokenFile, "tokenFile");
        Objects.requireNonNull(tlsCert, "tlsCert");
        Objects.requireNonNull(tlsKey, "tlsKey");
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port out of range: " + port);
        }
        if (tlsCert.isPresent() != tlsKey.isPresent()) {
            throw new IllegalArgumentException("a TLS certificate needs its key, and a key its certificate");
        }
    }

    /** Whether the endpoint speaks TLS. */
    public boolean tls() {
        return tlsCert.isPresent();
    }
}
