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
    /** The running daemon (replaced by {@link #kill9AndRestart()}). */
    volatile DaemonProcess process;
    final Path state;
    final String token;
    final RemoteUrl url;
    final RemoteTls tls;
    final int port;
    private final Path dir;
    private final List<String> args;
    private final Map<String, String> env;

    /** The address the endpoint listens on and the url names ({@code 127.0.0.1} unless given). */
    final String host;

    private RemoteDaemon(DaemonProcess process, Path state, String token, String host, int port, boolean https,
                         RemoteTls tls, Path dir, List<String> args, Map<String, String> env) {
        this.host = host;
        this.process = process;
        this.dir = dir;
        this.args = List.copyOf(args);
        this.env = Map.copyOf(env);
        this.state = state;
        this.token = token;
        this.port = port;
        this.url = RemoteUrl.parse((https ? "https" : "http") + "://" + host + ":" + port
                + "/services/SM?session_id=" + token);
        this.tls = tls;
    }

    /**
     * Starts the daemon under {@code dir}; with {@code certAndKey} (PEM files) the endpoint speaks HTTPS and
     * {@code tls} is how the test's clients check it.
     */
    static RemoteDaemon start(Path dir, Path[] certAndKey, RemoteTls tls) throws Exception {
        return start(dir, certAndKey, tls, List.of());
    }

    /** {@link #start(Path, Path[], RemoteTls)} with extra environment for the daemon (and so its plugins). */
    static RemoteDaemon start(Path dir, Path[] certAndKey, RemoteTls tls, Map<String, String> env) throws Exception {
        return start(dir, certAndKey, tls, List.of(), "127.0.0.1", env);
    }

    /** {@link #start(Path, Path[], RemoteTls)} with more daemon flags ({@code --remote-ca-bundle=...}, ...). */
    static RemoteDaemon start(Path dir, Path[] certAndKey, RemoteTls tls, List<String> extraArgs) throws Exception {
        return start(dir, certAndKey, tls, extraArgs, "127.0.0.1");
    }

    /**
     * The same with the endpoint on {@code host} (an IPv4 address of this machine, e.g. a second loopback address
     * or a veth's), which the url names too.
     */
    static RemoteDaemon start(Path dir, Path[] certAndKey, RemoteTls tls, List<String> extraArgs, String host)
            throws Exception {
        return start(dir, certAndKey, tls, extraArgs, host, Map.of());
    }

    /** The same with extra environment for the daemon (and so its plugins), kept for a restart. */
    static RemoteDaemon start(Path dir, Path[] certAndKey, RemoteTls tls, List<String> extraArgs, String host,
                              Map<String, String> env) throws Exception {
        Files.createDirectories(dir);
        Path state = dir.resolve("var");
        String token = "t-" + UUID.randomUUID();
        Path tokenFile = dir.resolve("token");
        Files.writeString(tokenFile, token + "\n", StandardCharsets.US_ASCII);
        Files.setPosixFilePermissions(tokenFile, PosixFilePermissions.fromString("rw-------"));
        int port = freePort();
        List<String> args = new ArrayList<>(List.of("--mode=embedded", "--state-dir=" + state,
                "--plugin-root=" + EmbeddedModeIT.repoRoot().resolve("examples/smapiv3"),
                "--sm-dir=" + EmbeddedModeIT.repoRoot().resolve("examples/sm"), "--log-level=INFO",
                "--remote-listen=" + host + ":" + port, "--remote-token-file=" + tokenFile));
        if (certAndKey != null) {
            args.add("--remote-tls-cert=" + certAndKey[0]);
            args.add("--remote-tls-key=" + certAndKey[1]);
        }
        args.addAll(extraArgs);
        DaemonProcess p = DaemonProcess.start(dir.resolve("daemon.log"), env, args.toArray(String[]::new));
        RemoteDaemon d = new RemoteDaemon(p, state, token, host, port, certAndKey != null, tls, dir, args, env);
        d.awaitAnswering();
        return d;
    }

    private void awaitAnswering() throws Exception {
        DaemonProcess p = process;
        try {
            StorageService quick = storage(Duration.ofSeconds(5));
            p.awaitStarted("the remote endpoint on port " + port + " answers Query.query",
                    () -> quick.query().query("it").driver().equals("mux"));
        } catch (Throwable e) {
            p.close();
            throw e;
        }
    }

    /**
     * SIGKILL, then the same daemon again (same state, port, token and flags; its log appended to), once its
     * endpoint answers: a crash and a restart of one host's daemon.
     */
    void kill9AndRestart() throws Exception {
        process.kill9();
        process = DaemonProcess.start(dir.resolve("daemon.log"), env, args.toArray(String[]::new));
        awaitAnswering();
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

    /**
     * Binds {@code sr} to {@code type} (the mux's Registry.register extension call, through the endpoint) and creates
     * and attaches it with {@code deviceConfig}.
     */
    void addSr(String sr, String type, Map<String, String> deviceConfig) throws Exception {
        String reply = Soon.get(RemoteStorage.transport(url, tls, RemoteStorage.Options.defaults())
                .call("{\"method\":\"Registry.register\",\"params\":[{\"dbg\":\"it\",\"sr\":\"" + sr
                        + "\",\"sr_type\":\"" + type + "\"}],\"id\":1}"));
        if (!org.xenstorage.idl.wire.Json.parse(reply).get("error").isNull()) {
            throw new AssertionError("Registry.register " + sr + ": " + reply);
        }
        StorageService s = storage();
        s.sr().create("it", sr, sr, "", deviceConfig, 0);
        s.sr().attach("it", sr, deviceConfig);
    }

    /** A localfile SR (the example SMAPIv1 driver) in the directory {@code srDir}, created here. */
    void addLocalfileSr(String sr, Path srDir) throws Exception {
        Files.createDirectories(srDir);
        addSr(sr, "localfile", Map.of("location", srDir.toString()));
    }

    /** This daemon's processes of {@code program} (e.g. nbdcopy) whose arguments name a path under its state dir. */
    List<ProcessHandle> childrenNaming(String program) {
        String root = state.toAbsolutePath().normalize().toString();
        return ProcessHandle.allProcesses().filter(ProcessHandle::isAlive)
                .filter(h -> h.info().command().map(c -> c.endsWith("/" + program)).orElse(false))
                .filter(h -> h.info().arguments().map(a -> List.of(a).stream().anyMatch(x -> x.contains(root)))
                        .orElse(false))
                .toList();
    }

    /** The url another daemon uses to reach this one, with {@code token} in place of the real one. */
    String urlWithToken(String otherToken) {
        return (url.tls() ? "https" : "http") + "://" + host + ":" + port + "/services/SM?session_id=" + otherToken;
    }

    /** The url another daemon uses to reach this one (token included). */
    String urlText() {
        return urlWithToken(token);
    }

    @Override
    public void close() throws InterruptedException {
        process.close();
    }
}
