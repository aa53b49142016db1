package org.xenstorage.bench.daemon;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.xenstorage.messageswitch.client.SwitchAddress;
import org.xenstorage.messageswitch.client.SwitchRpcClient;

/**
 * A real storage-daemon process for a load run or benchmark: embedded mode, the systemd unit's JVM options and
 * environment ({@value #UNIT}; {@code -Dbench.daemon.jvm="..."} replaces its JVM options), the repository's
 * example SM driver and SMAPIv3 plugins, state and log under a directory of the caller's, and the PATH systemd gives a
 * host daemon (no per-user shims: a pyenv shim costs 150 ms per python start).
 */
final class BenchDaemon implements AutoCloseable {
    static final String PREFIX = "org.xen.xapi.storage";
    static final Duration T = Duration.ofMinutes(10);
    /** The systemd unit the package installs: its JVM options and environment are the daemon's here too. */
    static final String UNIT = "scripts/xapi-storage-daemon.service";
    static final String JAVA_OPTS = "XAPI_STORAGE_DAEMON_JAVA_OPTS";

    final Process process;
    final Path state;
    final Path log;

    private BenchDaemon(Process process, Path state, Path log) {
        this.process = process;
        this.state = state;
        this.log = log;
    }

    /** Starts the daemon with {@code env} added to its environment. */
    static BenchDaemon start(Path root, Path dir, Map<String, String> env) throws IOException {
        return start(root, dir, env, List.of());
    }

    /** Starts the daemon with {@code env} added to its environment and {@code jvmExtra} after its JVM options. */
    static BenchDaemon start(Path root, Path dir, Map<String, String> env, List<String> jvmExtra) throws IOException {
        Path state = dir.resolve("state");
        Path log = dir.resolve("daemon.log");
        Map<String, String> unitEnv = unitEnvironment(root.resolve(UNIT));
        String jvm = System.getProperty("bench.daemon.jvm", unitEnv.getOrDefault(JAVA_OPTS, ""));
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.add("-Xshare:auto"); // as the package's launcher (packaging/bin/xapi-storage-daemon)
        if (!jvm.isBlank()) {
            cmd.addAll(List.of(jvm.trim().split("\\s+")));
        }
        cmd.addAll(jvmExtra);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "org.xenstorage.daemon.StorageDaemon",
                "--state-dir=" + state, "--plugin-root=" + root.resolve("examples/smapiv3"),
                "--sm-dir=" + root.resolve("examples/sm"), "--log-level=WARN"));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        pb.environment().remove("NOTIFY_SOCKET");
        pb.environment().put("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        // the rest of the unit's environment (MALLOC_ARENA_MAX, ...): the process the bench measures is the one
        // that ships
        unitEnv.forEach((k, v) -> {
            if (!k.equals(JAVA_OPTS)) {
                pb.environment().put(k, v);
            }
        });
        pb.environment().putAll(env);
        System.err.println("daemon: " + String.join(" ", cmd.subList(0, cmd.indexOf("-cp"))) + " (environment "
                + unitEnv.keySet().stream().filter(k -> !k.equals(JAVA_OPTS)).map(k -> k + "=" + unitEnv.get(k))
                .toList() + ")");
        return new BenchDaemon(pb.start(), state, log);
    }

    /**
     * The {@code Environment=} settings of a systemd unit file: {@code Environment="K=V"} or {@code Environment=K=V},
     * one setting a line (what the daemon's unit uses; systemd's several-per-line form is not needed there).
     */
    static Map<String, String> unitEnvironment(Path unit) throws IOException {
        Map<String, String> out = new LinkedHashMap<>();
        for (String line : Files.readAllLines(unit)) {
            String l = line.strip();
            if (!l.startsWith("Environment=")) {
                continue;
            }
            String kv = l.substring("Environment=".length());
            if (kv.length() >= 2 && kv.startsWith("\"") && kv.endsWith("\"")) {
                kv = kv.substring(1, kv.length() - 1);
            }
            int eq = kv.indexOf('=');
            if (eq > 0) {
                out.put(kv.substring(0, eq), kv.substring(eq + 1));
            }
        }
        return out;
    }

    long pid() {
        return process.pid();
    }

    /** A client of the daemon's switch, once the mux serves both example backend types. */
    SwitchRpcClient connect(String name) throws Exception {
        Path sock = state.resolve("message-switch.sock");
        for (int i = 0; i < 1200 && !Files.exists(sock); i++) {
            if (!process.isAlive()) {
                throw new IllegalStateException("daemon exited:\n" + Files.readString(log));
            }
            Thread.sleep(100);
        }
        SwitchRpcClient client = SwitchRpcClient.connect(SwitchAddress.unix(sock), name);
        for (int i = 0; i < 1200; i++) {
            if (client.list(PREFIX, true).get(10, TimeUnit.SECONDS).contains(PREFIX)) {
                String types = client.call(PREFIX,
                        "{\"method\":\"Registry.types\",\"params\":[{\"dbg\":\"b\"}],\"id\":1}", T);
                if (types.contains("localfile") && types.contains("simplefile")) {
                    return client;
                }
            }
            Thread.sleep(100);
        }
        client.close();
        throw new IllegalStateException("the daemon did not serve both example backends:\n" + Files.readString(log));
    }

    /** Binds {@code sr} to the backend of {@code type} (the mux's Registry.register extension). */
    static void register(SwitchRpcClient client, String sr, String type) throws Exception {
        String reply = client.call(PREFIX, "{\"method\":\"Registry.register\",\"params\":[{\"dbg\":\"b\",\"sr\":\""
                + sr + "\",\"sr_type\":\"" + type + "\"}],\"id\":2}", T);
        if (!reply.contains("\"error\":null")) {
            throw new IllegalStateException("register " + type + ": " + reply);
        }
    }

    /** A field of {@code /proc/<pid>/status} in its unit (kB for memory), or -1 once the process is gone. */
    static long procStatus(long pid, String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith(field)) {
                    return Long.parseLong(line.substring(field.length()).replace("kB", "").trim());
                }
            }
        } catch (IOException | RuntimeException e) {
            // the process is gone
        }
        return -1;
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.destroyForcibly();
        }
    }
}
