package org.xenstorage.daemon.smctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.smctl.ExitStatus;
import org.xenstorage.testing.Soon;

/**
 * The README session against a real storage daemon process in embedded mode (its own switch, the shipped
 * {@code examples/smapiv3} plugins): create an SR, a VDI, attach and activate it, and find the file on disk;
 * and {@code vdi-copy} following the daemon's real DATA.copy task to identical bytes in another SR.
 */
class SmctlDaemonIT {
    @TempDir
    Path dir;
    private Process daemon;
    private Path socket;

    @BeforeEach
    void startDaemon() throws Exception {
        Path state = dir.resolve("state");
        socket = state.resolve("message-switch.sock");
        Path plugins = Path.of("..", "examples", "smapiv3").toAbsolutePath().normalize();
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        // a long-lived child the test owns until it ends (ChildProcessRunner runs children to completion)
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-XX:TieredStopAtLevel=1", "-cp", cp, "org.xenstorage.daemon.StorageDaemon",
                "--mode=embedded", "--state-dir=" + state, "--plugin-root=" + plugins,
                "--sm-dir=" + dir.resolve("no-sm"), "--log-level=WARN")
                .redirectErrorStream(true).redirectOutput(dir.resolve("daemon.log").toFile());
        pb.environment().remove("NOTIFY_SOCKET");
        daemon = pb.start();
        // Ready once smctl reaches the mux AND the mux lists the plugin's queue as live: the mux may serve first
        // (the bridge retries, 5 s later, a queue whose first connection to the switch timed out), and a call
        // routed to the plugin meanwhile finds nobody.
        try {
            Soon.await("the daemon serves its mux and the simplefile backend", Soon.times(2), () -> {
                if (!daemon.isAlive()) {
                    throw new AssertionError("daemon exited with " + daemon.exitValue());
                }
                return Files.exists(socket) && smctl("types").out().equals("simplefile\n");
            });
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "\n" + Files.readString(dir.resolve("daemon.log")), e);
        }
    }

    @AfterEach
    void stopDaemon() throws Exception {
        daemon.destroy();
        if (!daemon.waitFor(Soon.millis(), TimeUnit.MILLISECONDS)) {
            daemon.destroyForcibly();
            Soon.exitOf(daemon);
        }
    }

    private SmctlRun smctl(String... args) {
        // a reply may take long on a busy machine (each call runs plugin scripts): not a thing to time out on
        List<String> all = new ArrayList<>(List.of("--switch-path", socket.toString(),
                "--timeout", String.valueOf(Soon.seconds())));
        all.addAll(List.of(args));
        return SmctlRun.run(all.toArray(String[]::new));
    }

    /** A run that must succeed; a failure shows what smctl said. */
    private SmctlRun ok(String... args) {
        SmctlRun r = smctl(args);
        assertEquals(0, r.status(), () -> String.join(" ", args) + ": " + r);
        return r;
    }

    @Test
    void createSrAndVdiThenAttachAndActivateAndTheFileIsThere() throws Exception {
        assertEquals("simplefile\n", smctl("types").out());
        Path srDir = Files.createDirectories(dir.resolve("sr1"));
        SmctlRun create = smctl("sr-create", "--type", "simplefile", "--sr", "sr1", "--name-label", "Demo",
                "--device-config", "path=" + srDir, "--physical-size", "0");
        assertEquals(0, create.status(), create.toString());
        ok("sr-attach", "--sr", "sr1", "--device-config", "path=" + srDir);

        // as xapi's call_probe: to <prefix>.<type> (lower-cased), with that queue as the call's queue argument
        SmctlRun probe = smctl("--json", "sr-probe", "--type", "SimpleFile", "--device-config", "path=" + srDir);
        assertEquals(0, probe.status(), probe.toString());
        JsonNode found = Json.parse(probe.out());
        assertEquals("Probe", found.get(0).asText(), probe.out());
        assertTrue(found.get(1).get(0).get("complete").asBoolean(), probe.out());
        assertEquals("Demo", found.get(1).get(0).findValue("name_label").asText(), probe.out());
        SmctlRun noDriver = smctl("sr-probe", "--type", "nfs", "--device-config", "server=x");
        assertEquals(ExitStatus.STORAGE_ERROR, noDriver.status(), noDriver.toString());
        assertEquals("error: Backend_error: SR_UNKNOWN_DRIVER [\"nfs\"]\n", noDriver.err());
        SmctlRun noRegistration = smctl("sr-register", "--sr", "sr9", "--type", "nfs");
        assertEquals(noDriver.err(), noRegistration.err(), "the daemon answers an unknown type as xapi does");

        SmctlRun vdi = smctl("--json", "vdi-create", "--sr", "sr1", "--vdi-info", "name_label=disk0",
                "--vdi-info", "virtual_size=4M");
        assertEquals(0, vdi.status(), vdi.toString());
        String key = Json.parse(vdi.out()).get("vdi").asText();

        SmctlRun attach = smctl("--json", "vdi-attach3", "--dp", "dp0", "--sr", "sr1", "--vdi", key, "--vm", "0",
                "--read-write");
        assertEquals(0, attach.status(), attach.toString());
        JsonNode file = attach.out().isEmpty() ? null : Json.parse(attach.out()).get("implementations").get(0);
        assertEquals("File", file.get(0).asText(), attach.out());
        Path image = Path.of(file.get(1).get("path").asText());
        ok("vdi-activate3", "--dp", "dp0", "--sr", "sr1", "--vdi", key, "--vm", "0");
        assertTrue(Files.isRegularFile(image), image + " exists");
        assertEquals(4L << 20, Files.size(image));

        SmctlRun scan = ok("sr-scan", "--sr", "sr1");
        assertTrue(scan.out().contains(key + "  disk0       4 MiB"), scan.out());
        SmctlRun diag = smctl("diagnostics");
        assertEquals(0, diag.status(), diag.toString());
        assertTrue(diag.out().contains("sr1  simplefile  org.xen.xapi.storage.simplefile"), diag.out());
        assertTrue(diag.out().contains("dp0  sr1  " + key), diag.out());

        SmctlRun unknown = smctl("vdi-stat", "--sr", "sr404", "--vdi", key);
        assertEquals(ExitStatus.STORAGE_ERROR, unknown.status());
        assertEquals("error: No_storage_plugin_for_sr: sr404\n", unknown.err());
    }

    @Test
    void vdiCopyFollowsTheDaemonsCopyTaskAndTheBytesArrive() throws Exception {
        for (String sr : List.of("src", "dst")) {
            Path srDir = Files.createDirectories(dir.resolve(sr));
            ok("sr-create", "--type", "simplefile", "--sr", sr, "--name-label", sr,
                    "--device-config", "path=" + srDir, "--physical-size", "0");
            ok("sr-attach", "--sr", sr, "--device-config", "path=" + srDir);
        }
        String key = Json.parse(ok("--json", "vdi-create", "--sr", "src", "--vdi-info", "name_label=data",
                "--vdi-info", "virtual_size=8M").out()).get("vdi").asText();
        // some content to carry across: attach to learn the file, write, detach
        JsonNode attach = Json.parse(ok("--json", "vdi-attach3", "--dp", "w", "--sr", "src", "--vdi", key,
                "--vm", "0", "--read-write").out());
        Path source = Path.of(attach.get("implementations").get(0).get(1).get("path").asText());
        byte[] pattern = new byte[1 << 20];
        for (int i = 0; i < pattern.length; i++) {
            pattern[i] = (byte) (i * 31 + 7);
        }
        try (var ch = java.nio.channels.FileChannel.open(source, java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap(pattern), 3L << 20);
        }
        ok("vdi-detach", "--dp", "w", "--sr", "src", "--vdi", key, "--vm", "0");
        ok("dp-destroy", "--dp", "w");

        SmctlRun copy = smctl("vdi-copy", "--sr", "src", "--vdi", key, "--dest", "dst");
        assertEquals(0, copy.status(), copy.toString());
        assertTrue(copy.err().contains("progress: 100%\n"), copy.err());
        assertTrue(copy.err().matches("(?s).*task \\S+: completed in [0-9.]+ s, 8 MiB at .*/s\n.*"), copy.err());
        assertTrue(copy.out().contains("name_label: data\n"), copy.out());
        String copied = copy.out().lines().filter(l -> l.startsWith("vdi: ")).findFirst().orElseThrow().substring(5);

        JsonNode dest = Json.parse(ok("--json", "vdi-attach3", "--dp", "r", "--sr", "dst", "--vdi", copied,
                "--vm", "0").out());
        Path target = Path.of(dest.get("implementations").get(0).get(1).get("path").asText());
        assertEquals(Files.mismatch(source, target), -1L, "the copy has the same bytes");
        assertEquals("(none)\n", smctl("task-list").out(), "the finished task was forgotten");
    }
}
