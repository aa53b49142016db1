package org.xenstorage.bench.daemon;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.xenstorage.bench.Harness;
import org.xenstorage.messageswitch.client.SwitchRpcClient;

/**
 * smctl's start-up (issue 16): {@code smctl types} against a running daemon, wall time of the whole process, median
 * of 20 runs, against the bare JVM start ({@code java -Xshare:auto -version}) measured in the same rounds (each
 * variant once per round, so they share the machine's load). smctl runs from a copy of the build tree's jars in a
 * temporary directory, laid out as the package has them (the smctl jar's manifest names the others), with the
 * launcher's JVM options, and with and without a class-data-sharing archive made in this run as make-smctl-cds
 * makes it (smctl's CdsTraining against the daemon). Also shown: {@code smctl sr-list} (a SMAPIv2 call on the fast
 * path) and {@code smctl diagnostics}, which goes through picocli, the IDL and the Netty client. Target: at most
 * 0.5 s and at most 1.5x the bare JVM.
 */
public final class SmctlStartBench {
    private static final int ROUNDS = 20;
    /** The row issue 16's targets apply to. */
    private static final String TARGET_ROW = "**`smctl types` with smctl's archive**";
    private static final List<String> LAUNCHER_OPTIONS = List.of("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            "-Xshare:auto", "-Xlog:disable", "-Xlog:all=warning:stderr", "-Xlog:cds*=off");

    private SmctlStartBench() {
    }

    public static void main(String[] args) throws Exception {
        Path root = BootStormBench.repoRoot();
        Path target = root.resolve("smctl/target");
        Path smctlJar = null;
        if (Files.isDirectory(target)) {
            try (DirectoryStream<Path> jars = Files.newDirectoryStream(target, "smctl-*.jar")) {
                for (Path j : jars) {
                    smctlJar = j;
                }
            }
        }
        System.out.println("### smctl start-up (issue 16)");
        System.out.println();
        if (smctlJar == null || !Files.isDirectory(target.resolve("lib"))) {
            System.out.println("skipped: no smctl/target/smctl-*.jar and smctl/target/lib (build smctl first)");
            return;
        }
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Path dir = Files.createTempDirectory("smctlstart");
        try {
            Path lib = Files.createDirectories(dir.resolve("lib"));
            Path jar = lib.resolve(smctlJar.getFileName());
            Files.copy(smctlJar, jar);
            try (DirectoryStream<Path> deps = Files.newDirectoryStream(target.resolve("lib"), "*.jar")) {
                for (Path d : deps) {
                    Files.copy(d, lib.resolve(d.getFileName()));
                }
            }
            try (BenchDaemon daemon = BenchDaemon.start(root, dir, Map.of());
                 SwitchRpcClient ready = daemon.connect("smctl-start-bench")) {
                String sock = daemon.state.resolve("message-switch.sock").toString();
                Path archive = dir.resolve("smctl.jsa");
                List<String> train = new ArrayList<>(List.of(java));
                train.addAll(LAUNCHER_OPTIONS);
                train.addAll(List.of("-XX:ArchiveClassesAtExit=" + archive, "-cp", jar.toString(),
                        "org.xenstorage.smctl.CdsTraining", "--switch-path", sock));
                if (run(train) != 0 || !Files.isRegularFile(archive)) {
                    throw new IllegalStateException("the archive's training run failed");
                }
                Map<String, List<String>> variants = new LinkedHashMap<>();
                variants.put("`java -Xshare:auto -version` (the bare JVM start)", List.of(java, "-Xshare:auto",
                        "-version"));
                variants.put("`smctl types`, no archive of its own", smctl(java, jar, null, sock, "types"));
                variants.put(TARGET_ROW, smctl(java, jar, archive, sock, "types"));
                variants.put("`smctl sr-list` (fast path, SMAPIv2 SR.list) with smctl's archive",
                        smctl(java, jar, archive, sock, "sr-list"));
                variants.put("`smctl diagnostics` (picocli, Netty, the IDL) with smctl's archive",
                        smctl(java, jar, archive, sock, "diagnostics"));
                Map<String, double[]> times = new LinkedHashMap<>();
                variants.keySet().forEach(k -> times.put(k, new double[ROUNDS]));
                String loadBefore = Harness.loadAverage();
                for (int round = 0; round < ROUNDS; round++) {
                    for (Map.Entry<String, List<String>> v : variants.entrySet()) {
                        long start = System.nanoTime();
                        int status = run(v.getValue());
                        times.get(v.getKey())[round] = (System.nanoTime() - start) / 1e6;
                        if (status != 0) {
                            throw new IllegalStateException(v.getKey() + " exited " + status);
                        }
                    }
                }
                String loadAfter = Harness.loadAverage();
                double bare = Harness.median(times.values().iterator().next());
                System.out.println("Machine: " + Harness.machine() + "; load average before " + loadBefore
                        + ", after " + loadAfter + ". Median of " + ROUNDS + " runs, each variant once per round,"
                        + " against an embedded daemon; launcher options " + String.join(" ", LAUNCHER_OPTIONS)
                        + "; archive made in this run (" + (Files.size(archive) >> 20) + " MiB).");
                System.out.println();
                System.out.println("| what | median | ratio to the bare JVM | target |");
                System.out.println("|---|---:|---:|---|");
                double typesMs = Double.NaN;
                for (Map.Entry<String, double[]> t : times.entrySet()) {
                    double m = Harness.median(t.getValue());
                    boolean isTarget = t.getKey().equals(TARGET_ROW);
                    if (isTarget) {
                        typesMs = m;
                    }
                    System.out.printf(Locale.ROOT, "| %s | %.0f ms | %.2fx | %s |%n", t.getKey(), m, m / bare,
                            isTarget ? "<= 500 ms and <= 1.5x" : "");
                }
                System.out.println();
                System.out.printf(Locale.ROOT, "Issue 16: `smctl types` with the archive %.0f ms, target <= 500 ms: %s;"
                        + " %.2fx the bare JVM, target <= 1.5x: %s.%n", typesMs,
                        Harness.verdict(Math.round(typesMs) <= 500), typesMs / bare, Harness.atMost(typesMs / bare, 1.5));
            }
        } finally {
            Harness.deleteTree(dir);
        }
    }

    private static List<String> smctl(String java, Path jar, Path archive, String sock, String command) {
        List<String> cmd = new ArrayList<>(List.of(java));
        if (archive != null) {
            cmd.add("-XX:SharedArchiveFile=" + archive);
        }
        cmd.addAll(LAUNCHER_OPTIONS);
        cmd.addAll(List.of("-cp", jar.toString(), "org.xenstorage.smctl.Smctl", "--switch-path", sock, command));
        return cmd;
    }

    private static int run(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        if (!p.waitFor(2, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new IllegalStateException("hung: " + cmd);
        }
        return p.exitValue();
    }
}
