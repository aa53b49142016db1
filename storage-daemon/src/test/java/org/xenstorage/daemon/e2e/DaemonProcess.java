package org.xenstorage.daemon.e2e;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.xenstorage.messageswitch.client.SwitchAddress;
import org.xenstorage.messageswitch.client.SwitchRpcClient;
import org.xenstorage.testing.Soon;

/**
 * A real storage-daemon process started from a test with {@code java} and the test classpath; its output
 * goes to a log file the test can read when something fails.
 */
final class DaemonProcess implements AutoCloseable {
    /** How long a daemon may take to start serving: a JVM start plus its backends, on a busy machine. */
    static final Duration START = Soon.times(2);

    final Process process;
    final Path log;

    private DaemonProcess(Process process, Path log) {
        this.process = process;
        this.log = log;
    }

    static String classpath() {
        String cp = System.getProperty("surefire.test.class.path");
        return cp != null && !cp.isBlank() ? cp : System.getProperty("java.class.path");
    }

    static DaemonProcess start(Path log, Map<String, String> env, String... args) throws IOException {
        return start(jvmOptions(), log, env, args);
    }

    /**
     * The daemon JVM's options: {@code -Dit.daemon.jvm="..."} (space-separated) when given, else a small heap and
     * the C1 compiler only, which starts fastest for the short-lived daemons most tests run.
     */
    static List<String> jvmOptions() {
        String given = System.getProperty("it.daemon.jvm");
        return given != null && !given.isBlank() ? List.of(given.trim().split("\\s+"))
                : List.of("-Xmx256m", "-XX:TieredStopAtLevel=1");
    }

    /** Starts a daemon with the JVM options {@code jvm} (e.g. the systemd unit's, for a measurement). */
    static DaemonProcess start(List<String> jvm, Path log, Map<String, String> env, String... args)
            throws IOException {
        return start(List.of(), jvm, log, env, args);
    }

    /**
     * Starts a daemon with {@code prefix} in front of its {@code java} command: {@code ip netns exec <ns>} runs it on
     * one of {@link org.xenstorage.testing.TwoHosts}' hosts (ip execs java itself, so the process is the daemon's).
     */
    static DaemonProcess start(List<String> prefix, List<String> jvm, Path log, Map<String, String> env,
                               String... args) throws IOException {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvm);
        cmd.addAll(List.of("-cp", classpath(), "org.xenstorage.daemon.StorageDaemon"));
        cmd.addAll(List.of(args));
        return exec(log, env, cmd);
    }

    /** Runs {@code cmd} (e.g. one of the repository's scripts, which start the daemon) as the daemon process. */
    static DaemonProcess exec(Path log, Map<String, String> env, List<String> cmd) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        pb.environment().remove("NOTIFY_SOCKET");
        pb.environment().put("PATH", hostPath(pb.environment().get("PATH")));
        pb.environment().putAll(env);
        return new DaemonProcess(pb.start(), log);
    }

    /**
     * The daemon's {@code PATH} (its plugin scripts find {@code python3} through it, as upstream scripts do): the
     * test's own without version-manager shims (pyenv, asdf), which are shell scripts that cost about ten times
     * the interpreter's own start on every script call; a host's daemon, started by systemd, has none.
     */
    static String hostPath(String inherited) {
        String path = inherited == null ? "" : inherited;
        String kept = java.util.Arrays.stream(path.split(":"))
                .filter(dir -> !dir.isEmpty() && !dir.contains("/shims") && !dir.contains("/.pyenv/"))
                .collect(java.util.stream.Collectors.joining(":"));
        return kept.isEmpty() ? "/usr/bin:/bin" : kept + ":/usr/bin:/bin";
    }

    /** Fails at once, with the log, when the daemon has exited. */
    void assertAlive() {
        if (!process.isAlive()) {
            throw new Exited("daemon exited with " + process.exitValue() + ":\n" + output());
        }
    }

    /** The daemon exited while a test waited for it: no point waiting on. */
    static final class Exited extends AssertionError {
        Exited(String message) {
            super(message);
        }
    }

    /**
     * A client of the daemon's embedded switch at {@code socket}, once it accepts one (the socket file exists
     * a moment before the switch listens on it).
     */
    SwitchRpcClient connect(Path socket, String name) throws InterruptedException {
        AtomicReference<SwitchRpcClient> client = new AtomicReference<>();
        awaitStarted("the embedded switch at " + socket + " accepts a client", () -> {
            client.set(SwitchRpcClient.connect(SwitchAddress.unix(socket), name, SwitchFixture.PATIENT));
            return true;
        });
        return client.get();
    }

    /**
     * Waits until {@code queue} is served on the switch (the mux binds it last, once ready) and both of the
     * client's connections are up: a call fails DISCONNECTED at once while either is still (re)connecting,
     * and the queue list goes over one of them only.
     */
    void awaitServing(SwitchRpcClient client, String queue) throws InterruptedException {
        awaitStarted(queue + " served",
                () -> client.isConnected() && Soon.get(client.list(queue, true)).contains(queue));
    }

    /** {@link Soon#await} for a step of the start, failing at once if the daemon exits meanwhile. */
    void awaitStarted(String what, Soon.Condition condition) throws InterruptedException {
        try {
            Soon.await(what, START, () -> {
                assertAlive();
                return condition.holds();
            });
        } catch (Exited e) {
            throw e;
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "\n" + output(), e.getCause());
        }
    }

    String output() {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    /** SIGKILL, as an OOM killer or a crash would; returns once the process is gone. */
    void kill9() throws InterruptedException {
        process.destroyForcibly();
        Soon.exitOf(process);
    }

    /** SIGTERM, as systemd stop does; returns the exit code. */
    int terminate() throws InterruptedException {
        process.destroy();
        try {
            return Soon.exitOf(process);
        } catch (AssertionError e) {
            throw new AssertionError("daemon did not stop after SIGTERM:\n" + output(), e);
        }
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroyForcibly();
            Soon.exitOf(process);
        }
    }
}
