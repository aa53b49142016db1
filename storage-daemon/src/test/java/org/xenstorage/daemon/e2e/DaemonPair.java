package org.xenstorage.daemon.e2e;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.xenstorage.migrate.remote.RemoteTls;
import org.xenstorage.testing.Soon;

/**
 * Two real storage daemons as two hosts' would be, each with its own state, switch and remote endpoint (a
 * {@link RemoteDaemon} on its own loopback port and token, B optionally over TLS), started side by side: storage
 * motion tests call
 * {@code DATA.copy} on {@link #a} with {@link #b}'s url. Each daemon's directory is {@code <dir>/a} or {@code <dir>/b}.
 */
final class DaemonPair implements AutoCloseable {
    final RemoteDaemon a;
    final RemoteDaemon b;

    private DaemonPair(RemoteDaemon a, RemoteDaemon b) {
        this.a = a;
        this.b = b;
    }

    /** Plain HTTP endpoints on loopback. */
    static DaemonPair start(Path dir) throws Exception {
        return start(dir, List.of());
    }

    /** With the same extra daemon flags for both. */
    static DaemonPair start(Path dir, List<String> extraArgs) throws Exception {
        return start(dir, extraArgs, false);
    }

    /**
     * With the same extra daemon flags for both; with {@code bOverTls}, B's endpoint speaks HTTPS only with a
     * certificate made for 127.0.0.1 ({@code <dir>/b-cert/cert.pem}), which A trusts through its
     * {@code remote-ca-bundle} (so a copy with {@code verify_dest} verifies it).
     */
    static DaemonPair start(Path dir, List<String> extraArgs, boolean bOverTls) throws Exception {
        Path[] certAndKey = null;
        List<String> aArgs = extraArgs;
        RemoteTls bTls = RemoteTls.systemTrust();
        if (bOverTls) {
            Path certDir = java.nio.file.Files.createDirectories(dir.resolve("b-cert"));
            certAndKey = RemoteEndpointTlsIT.makeCertificate(certDir);
            aArgs = new java.util.ArrayList<>(extraArgs);
            aArgs.add("--remote-ca-bundle=" + certAndKey[0]);
            bTls = RemoteTls.trustingPem(certAndKey[0]);
        }
        CompletableFuture<RemoteDaemon> a = startAsync(dir.resolve("a"), aArgs, null, RemoteTls.systemTrust());
        CompletableFuture<RemoteDaemon> b = startAsync(dir.resolve("b"), extraArgs, certAndKey, bTls);
        try {
            return new DaemonPair(Soon.get(a, DaemonProcess.START.multipliedBy(2)), Soon.get(b, DaemonProcess.START.multipliedBy(2)));
        } catch (Throwable e) {
            for (CompletableFuture<RemoteDaemon> d : List.of(a, b)) {
                d.thenAccept(DaemonPair::closeQuietly);
            }
            throw e;
        }
    }

    private static CompletableFuture<RemoteDaemon> startAsync(Path dir, List<String> extraArgs, Path[] certAndKey,
                                                              RemoteTls tls) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return RemoteDaemon.start(dir, certAndKey, tls, extraArgs);
            } catch (Exception e) {
                throw new CompletionException(e);
            }
        });
    }

    private static void closeQuietly(RemoteDaemon d) {
        try {
            d.close();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() throws InterruptedException {
        try {
            a.close();
        } finally {
            b.close();
        }
    }
}
