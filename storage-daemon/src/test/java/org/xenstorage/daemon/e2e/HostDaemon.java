package org.xenstorage.daemon.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.rpc.StorageClient;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.messageswitch.client.SwitchRpcClient;
import org.xenstorage.testing.Soon;
import org.xenstorage.testing.TwoHosts;

/**
 * A real storage daemon on one of {@link TwoHosts}' hosts: embedded mode (its own switch, state and run dirs under
 * the test's directory), the example SM driver and SMAPIv3 plugins, and its remote endpoint on the host's address
 * with a fresh token in a private file. The test reaches its mux through the switch's Unix socket (from any
 * namespace); only the peer daemon reaches its endpoint, at {@link #url()}. It can be killed and started again on
 * the same state, as a crashed host's daemon is.
 */
final class HostDaemon implements AutoCloseable {
    static final String PREFIX = "org.xen.xapi.storage";
    /** The endpoint's port in a namespace of its own (nothing else listens there). */
    static final int PORT = 8098;

    final TwoHosts.Host host;
    final Path dir;
    final Path state;
    final Path qdiskRun;
    final String token;
    final int port;
    private final Path tokenFile;
    private DaemonProcess process;
    private SwitchRpcClient client;
    private StorageService mux;
    private int starts;

    private HostDaemon(TwoHosts.Host host, Path dir, String token, Path tokenFile, int port) {
        this.host = host;
        this.dir = dir;
        this.state = dir.resolve("var");
        this.qdiskRun = dir.resolve("q");
        this.token = token;
        this.tokenFile = tokenFile;
        this.port = port;
    }

    /** Starts a daemon on {@code host} with everything of its own under {@code dir}; returns once it serves. */
    static HostDaemon start(TwoHosts.Host host, Path dir) throws Exception {
        Files.createDirectories(dir);
        String token = "t-" + UUID.randomUUID();
        Path tokenFile = dir.resolve("token");
        Files.writeString(tokenFile, token + "\n", StandardCharsets.US_ASCII);
        Files.setPosixFilePermissions(tokenFile, PosixFilePermissions.fromString("rw-------"));
        int port = host.namespace().isPresent() ? PORT : freePort(host.address());
        HostDaemon d = new HostDaemon(host, dir, token, tokenFile, port);
        try {
            d.startProcess();
        } catch (Throwable e) {
            d.close();
            throw e;
        }
        return d;
    }

    /** Starts the daemon again on the same state, dirs, address and token (after {@link #kill9()}). */
    void restart() throws Exception {
        if (process != null && process.process.isAlive()) {
            throw new IllegalStateException("the daemon on " + host + " still runs");
        }
        startProcess();
    }

    private void startProcess() throws Exception {
        starts++;
        Path root = EmbeddedModeIT.repoRoot();
        process = DaemonProcess.start(host.prefix(), DaemonProcess.jvmOptions(),
                dir.resolve("daemon-" + starts + ".log"), Map.of("QDISK_RUN_DIR", qdiskRun.toString()),
                "--mode=embedded", "--state-dir=" + state, "--plugin-root=" + root.resolve("examples/smapiv3"),
                "--sm-dir=" + root.resolve("examples/sm"), "--log-level=INFO", "--discovery-interval=1s",
                "--remote-listen=" + host.address() + ":" + port, "--remote-token-file=" + tokenFile);
        if (client == null) {
            client = process.connect(state.resolve("message-switch.sock"), "it-" + host.name());
            // a send_start answers once its mirror is ready: calls may take several bounds
            mux = StorageClient.of(text -> client.callAsync(PREFIX, text, Soon.times(4)));
        }
        process.awaitServing(client, PREFIX);
        process.awaitStarted("both backend types are live on " + host, () -> {
            String types = call("Registry.types", "").toString();
            return types.contains("localfile") && types.contains("simplefile");
        });
        process.awaitStarted("the remote endpoint of " + host + " listens",
                () -> process.output().contains("remote endpoint listening on"));
    }

    /** The mux of this daemon, through its switch. */
    StorageService mux() {
        return mux;
    }

    /** The daemon's process (for its output, or to check it runs). */
    DaemonProcess process() {
        return process;
    }

    /** The URL the peer daemon reaches this one's endpoint with (xapi's form: the token as session_id). */
    String url() {
        String address = host.address().contains(":") ? "[" + host.address() + "]" : host.address();
        return "http://" + address + ":" + port + "/services/SM?session_id=" + token;
    }

    /** An extension call on the mux queue ({@code Registry.*}, {@code Mux.*}); its {@code result}. */
    JsonNode call(String method, String extraParams) throws IOException {
        JsonNode r = Json.parse(client.call(PREFIX, "{\"method\":\"" + method + "\",\"params\":[{\"dbg\":\"it\""
                + extraParams + "}],\"id\":1}", Soon.timeout()));
        if (!r.get("error").isNull()) {
            throw new AssertionError(method + " failed on " + host + ": " + r);
        }
        return r.get("result");
    }

    /** Registers {@code sr} as of type {@code type} with the mux (before SR.create/attach). */
    void register(String sr, String type) throws IOException {
        call("Registry.register", ",\"sr\":\"" + sr + "\",\"sr_type\":\"" + type + "\"");
    }

    /** The helper programs a daemon starts (the NBD and mirror tools), which must not outlive their work. */
    static final Set<String> HELPERS = Set.of("nbdcopy", "qemu-nbd", "qemu-storage-daemon", "qemu-io");

    /** The helper processes ({@link #HELPERS}) whose argv names this daemon's dirs, as argv text. */
    List<String> processesUnder() {
        return processesUnderHandles().stream().map(h -> h.info().commandLine().orElse("")).toList();
    }

    /** The same as handles (to end what a failed test left). */
    List<ProcessHandle> processesUnderHandles() {
        String mark = dir.toAbsolutePath().normalize().toString();
        return ProcessHandle.allProcesses().filter(ProcessHandle::isAlive)
                .filter(h -> h.info().command().map(c -> HELPERS.contains(Path.of(c).getFileName().toString()))
                        .orElse(false))
                .filter(h -> h.info().commandLine().orElse("").contains(mark))
                .toList();
    }

    /** SIGKILL of the daemon, as a crash: returns once it is gone (what it started may still run). */
    void kill9() throws InterruptedException {
        process.kill9();
    }

    /** The daemon's output over all its starts. */
    String output() {
        StringBuilder b = new StringBuilder();
        for (int i = 1; i <= starts; i++) {
            try {
                b.append(Files.readString(dir.resolve("daemon-" + i + ".log")));
            } catch (IOException e) {
                b.append("(no log ").append(i).append(")\n");
            }
        }
        return b.toString();
    }

    static int freePort(String address) throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName(address))) {
            return s.getLocalPort();
        }
    }

    /** How long a daemon on a busy machine may take to start, for callers that wait on it. */
    static Duration startBound() {
        return DaemonProcess.START;
    }

    @Override
    public void close() throws InterruptedException {
        if (client != null) {
            client.close();
        }
        if (process != null) {
            process.close();
        }
    }
}
