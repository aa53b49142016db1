package org.xenstorage.daemon.e2e;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.migrate.remote.RemoteStorage;
import org.xenstorage.migrate.remote.RemoteTls;
import org.xenstorage.migrate.remote.RemoteUrl;
import org.xenstorage.testing.Soon;

/**
 * A real storage daemon (embedded mode, the example SM driver and SMAPIv3 plugin) with its remote endpoint on a
 * free loopback port, a fresh token in a private file, and optionally TLS; reached with {@link RemoteStorage}.
 */
final class RemoteDaemon implements AutoCloseable {
    final DaemonProcess process;
    final Path state;
    final String token;
    final RemoteUrl url;
    final RemoteTls tls;
    final int port;

    private RemoteDaemon(DaemonProcess process, Path state, String token, int port, boolean https, RemoteTls tls) {
        this.process = process;
        this.state = state;
        this.token = token;
        this.port = port;
        this.url = RemoteUrl.parse((https ? "https" : "http") + "://127.0.0.1:" + port + "/services/SM?session_id="
                + token);
        this.tls = tls;
    }

    /**
     * Starts the daemon under {@code dir}; with {@code certAndKey} (PEM files) the endpoint speaks HTTPS and
     * {@code tls} is how the test's clients check it.
     */
    static RemoteDaemon start(Path dir, Path[] certAndKey, RemoteTls tls) throws Exception {
        return start(dir, certAndKey, tls, Map.of());
    }

    /** {@link #start(Path, Path[], RemoteTls)} with extra environment for the daemon (and so its plugins). */
    static RemoteDaemon start(Path dir, Path[] certAndKey, RemoteTls tls, Map<String, String> env) throws Exception {
        Path state = dir.resolve("var");
        String token = "t-" + UUID.randomUUID();
        Path tokenFile = dir.resolve("token");
        Files.writeString(tokenFile, token + "\n", StandardCharsets.US_ASCII);
        Files.setPosixFilePermissions(tokenFile, PosixFilePermissions.fromString("rw-------"));
        int port = freePort();
        List<String> args = new ArrayList<>(List.of("--mode=embedded", "--state-dir=" + state,
                "--plugin-root=" + EmbeddedModeIT.repoRoot().resolve("examples/smapiv3"),
                "--sm-dir=" + EmbeddedModeIT.repoRoot().resolve("examples/sm"), "--log-level=INFO",
                "--remote-listen=127.0.0.1:" + port, "--remote-token-file=" + tokenFile));
        if (certAndKey != null) {
            args.add("--remote-tls-cert=" + certAndKey[0]);
            args.add("--remote-tls-key=" + certAndKey[1]);
        }
        DaemonProcess p = DaemonProcess.start(dir.resolve("daemon.log"), env, args.toArray(String[]::new));
        RemoteDaemon d = new RemoteDaemon(p, state, token, port, certAndKey != null, tls);
        try {
            StorageService quick = d.storage(Duration.ofSeconds(5));
            p.awaitStarted("the remote endpoint on port " + port + " answers Query.query",
                    () -> quick.query().query("it").driver().equals("mux"));
        } catch (Throwable e) {
            p.close();
            throw e;
        }
        return d;
    }

    /** A port nothing listens on now (bound, then closed again). */
    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    StorageService storage() {
        return storage(Soon.timeout());
    }

    StorageService storage(Duration callTimeout) {
        return RemoteStorage.connect(url, tls, new RemoteStorage.Options(Soon.timeout(), callTimeout));
    }

    /** The qemu-nbd processes this daemon's endpoint runs now (their socket is under its run dir). */
    List<ProcessHandle> qemuNbds() {
        String marker = "--socket=" + state.resolve("remote").toAbsolutePath().normalize();
        return ProcessHandle.allProcesses().filter(ProcessHandle::isAlive)
                .filter(h -> h.info().arguments().map(a -> List.of(a).stream().anyMatch(x -> x.startsWith(marker)))
                        .orElse(false))
                .toList();
    }

    @Override
    public void close() throws InterruptedException {
        process.close();
    }
}
