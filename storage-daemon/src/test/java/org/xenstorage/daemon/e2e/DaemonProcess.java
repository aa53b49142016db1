package org.xenstorage.daemon.e2e;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.xenstorage.messageswitch.client.SwitchRpcClient;

/**
 * A real storage-daemon process started from a test with {@code java} and the test classpath; its output
 * goes to a log file the test can read when something fails.
 */
final class DaemonProcess implements AutoCloseable {
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
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-XX:TieredStopAtLevel=1", "-cp", classpath(), "org.xenstorage.daemon.StorageDaemon"));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        pb.environment().remove("NOTIFY_SOCKET");
        pb.environment().putAll(env);
        return new DaemonProcess(pb.start(), log);
    }

    /** Waits until {@code queue} is served on the switch (the mux binds it last, once ready). */
    void awaitServing(SwitchRpcClient client, String queue, Duration max) throws Exception {
        long end = System.nanoTime() + max.toNanos();
        while (System.nanoTime() < end) {
            if (!process.isAlive()) {
                throw new AssertionError("daemon exited with " + process.exitValue() + ":\n" + output());
            }
            List<String> live = client.list(queue, true).get(5, TimeUnit.SECONDS);
            if (live.contains(queue)) {
                return;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("daemon did not serve " + queue + " in time:\n" + output());
    }

    String output() {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    /** SIGKILL, as an OOM killer or a crash would. */
    void kill9() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(20, TimeUnit.SECONDS);
    }

    /** SIGTERM, as systemd stop does; returns the exit code. */
    int terminate(Duration max) throws InterruptedException {
        process.destroy();
        if (!process.waitFor(max.toMillis(), TimeUnit.MILLISECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("daemon did not stop after SIGTERM:\n" + output());
        }
        return process.exitValue();
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroyForcibly();
            process.waitFor(20, TimeUnit.SECONDS);
        }
    }
}
