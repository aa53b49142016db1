package org.xenstorage.smctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.exec.ChildProcessRunner;
import org.xenstorage.exec.ExecRequest;
import org.xenstorage.exec.ExecResult;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.messageswitch.broker.EmbeddedSwitch;
import org.xenstorage.messageswitch.client.SwitchAddress;
import org.xenstorage.messageswitch.client.SwitchOptions;
import org.xenstorage.messageswitch.client.SwitchQueueServer;
import org.xenstorage.messageswitch.client.SwitchRpcClient;
import org.xenstorage.testing.Soon;

/**
 * smctl against the real embedded message-switch, with a small SMAPIv2 service served on the mux queue by a
 * real {@link SwitchQueueServer} and {@code StorageDispatcher}: in-process runs of {@link Smctl#run} with the
 * real switch client, and one run as a separate {@code java} process.
 */
class SmctlSwitchIT {
    private static final String MUX = "org.xen.xapi.storage";
    /** For the test's own clients and queue servers: connecting may take what a busy machine takes. */
    private static final SwitchOptions PATIENT = SwitchOptions.defaults().withConnectTimeout(Soon.timeout());

    @TempDir
    Path dir;
    private EmbeddedSwitch embedded;
    private Path socket;
    private TinyStorage storage;
    private final List<SwitchQueueServer> servers = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        socket = dir.resolve("message-switch.sock");
        embedded = EmbeddedSwitch.start(Optional.of(socket), Optional.empty(), dir.resolve("switch-state"));
        storage = new TinyStorage(MUX);
        servers.add(SwitchQueueServer.start(SwitchAddress.unix(socket), MUX, 4, storage::handle, PATIENT));
        // a backend queue, so the switch has more than the mux to list
        servers.add(SwitchQueueServer.start(SwitchAddress.unix(socket), MUX + ".ext", 4,
                body -> CompletableFuture.completedFuture("{\"result\":null,\"error\":null,\"id\":0}"), PATIENT));
        awaitPolled(SwitchAddress.unix(socket), MUX, true);
        awaitPolled(SwitchAddress.unix(socket), MUX + ".ext", true);
    }

    /**
     * Waits until the switch does (or no longer does) list {@code queue} as polled. A queue server is up once
     * its first poll reaches the switch, a moment after start returns, and gone once the switch has seen its
     * connection close; smctl checks exactly that before its first call.
     */
    static void awaitPolled(SwitchAddress address, String queue, boolean polled) throws Exception {
        try (SwitchRpcClient c = SwitchRpcClient.connect(address, "it-setup", PATIENT)) {
            Soon.await(queue + (polled ? " is polled" : " is no longer polled"),
                    () -> Soon.get(c.list(queue, true)).contains(queue) == polled);
        }
    }

    /**
     * The real link, connected and listing within {@link Soon#timeout()}: for a run whose {@code --timeout} is
     * the subject and is too short to cover connecting on a busy machine.
     */
    static SwitchLink patientLink(SwitchAddress address, Duration timeout) {
        SwitchLink real = MessageSwitchLink.connect(address, Soon.timeout());
        return new SwitchLink() {
            @Override
            public CompletableFuture<String> call(String queue, String body, Duration callTimeout) {
                return real.call(queue, body, callTimeout);
            }

            @Override
            public List<String> queues(String prefix, boolean aliveOnly, Duration ignored) {
                return real.queues(prefix, aliveOnly, Soon.timeout());
            }

            @Override
            public void close() {
                real.close();
            }
        };
    }

    @AfterEach
    void stop() {
        servers.forEach(SwitchQueueServer::close);
        embedded.close();
    }

    private SmctlRun smctl(String... args) {
        List<String> all = new ArrayList<>(List.of("--switch-path", socket.toString(),
                "--timeout", String.valueOf(Soon.seconds())));
        all.addAll(List.of(args));
        return SmctlRun.run(MessageSwitchLink::connect, false, all.toArray(String[]::new));
    }

    @Test
    void srVdiAttachActivateSessionOverTheSwitch() throws Exception {
        SmctlRun create = smctl("sr-create", "--type", "ext", "--sr", "sr1", "--name-label", "Local",
                "--device-config", "path=/srv/sr1", "--physical-size", "0");
        assertEquals(0, create.status(), create.toString());
        assertEquals("path: /srv/sr1\n", create.out());
        assertEquals(0, smctl("sr-attach", "--sr", "sr1", "--device-config", "path=/srv/sr1").status());

        SmctlRun vdi = smctl("vdi-create", "--sr", "sr1", "--vdi-info",
                "{\"vdi\":\"\",\"name_label\":\"disk0\",\"virtual_size\":1073741824}");
        assertEquals(0, vdi.status(), vdi.toString());
        assertTrue(vdi.out().contains("virtual_size: 1073741824 (1 GiB)\n"), vdi.out());

        SmctlRun attach = smctl("--json", "vdi-attach3", "--dp", "dp0", "--sr", "sr1", "--vdi", "vdi-1", "--vm", "0",
                "--read-write");
        assertEquals(0, attach.status(), attach.toString());
        JsonNode backend = Json.parse(attach.out());
        assertEquals("/srv/sr1/vdi-1.img", backend.get("implementations").get(0).get(1).get("path").asText());
        assertEquals(0, smctl("vdi-activate3", "--dp", "dp0", "--sr", "sr1", "--vdi", "vdi-1", "--vm", "0").status());

        SmctlRun diag = smctl("diagnostics");
        assertEquals(0, diag.status(), diag.toString());
        assertTrue(diag.out().contains("QUEUE                     ALIVE\norg.xen.xapi.storage      true\n"
                + "org.xen.xapi.storage.ext  true"), diag.out());
        assertTrue(diag.out().contains("dp0  sr1  vdi-1 activated RW"), diag.out());
    }

    @Test
    void storageErrorOverTheSwitchExitsOne() {
        SmctlRun r = smctl("sr-stat", "--sr", "sr404");
        assertEquals(ExitStatus.STORAGE_ERROR, r.status(), r.toString());
        assertEquals("error: Sr_not_attached: sr404\n", r.err());
    }

    @Test
    void vdiCopyShowsProgressThenThroughput() {
        for (String sr : List.of("a", "b")) {
            assertEquals(0, smctl("sr-create", "--type", "ext", "--sr", sr, "--name-label", sr,
                    "--device-config", "path=/srv/" + sr, "--physical-size", "0").status());
            assertEquals(0, smctl("sr-attach", "--sr", sr).status());
        }
        assertEquals(0, smctl("vdi-create", "--sr", "a", "--vdi-info",
                "{\"vdi\":\"\",\"name_label\":\"d\",\"virtual_size\":8388608}").status());
        SmctlRun copy = smctl("vdi-copy", "--sr", "a", "--vdi", "vdi-1", "--dest", "b");
        assertEquals(0, copy.status(), copy.toString());
        assertTrue(copy.err().contains("progress: 25%\nprogress: 50%\nprogress: 75%\nprogress: 100%\n"), copy.err());
        assertTrue(copy.err().contains("task 0: completed in 2 s, 8 MiB at 4 MiB/s"), copy.err());
        assertTrue(copy.out().contains("vdi: vdi-2\n"), copy.out());
    }

    @Test
    void missingSwitchSocketExitsThreeAtOnce() {
        SmctlRun r = SmctlRun.run(MessageSwitchLink::connect, false, "--switch-path",
                dir.resolve("no-such.sock").toString(), "sr-list");
        assertEquals(ExitStatus.UNREACHABLE, r.status(), r.toString());
        assertTrue(r.err().startsWith("error: cannot reach the message-switch at unix:" + dir.resolve("no-such.sock")
                + ": no message-switch socket at"), r.err());
    }

    @Test
    void deadDaemonWhosePersistentQueueRemainsFailsFastWithExitThree() throws Exception {
        servers.get(0).shutdown(Duration.ofSeconds(5));
        awaitPolled(SwitchAddress.unix(socket), MUX, false);
        SmctlRun r = smctl("sr-list");
        assertEquals(ExitStatus.UNREACHABLE, r.status(), r.toString());
        assertTrue(r.err().contains("nobody serves queue org.xen.xapi.storage"), r.err());
        assertTrue(r.err().contains("exists but nobody is polling it"), r.err());
    }

    @Test
    void aSeparateJavaProcessRunsSmctl() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> base = List.of(java, "-cp", System.getProperty("java.class.path"),
                "org.xenstorage.smctl.Smctl", "--switch-path", socket.toString());
        try (ChildProcessRunner runner = new ChildProcessRunner()) {
            List<String> ok = new ArrayList<>(base);
            ok.addAll(List.of("--json", "types"));
            ExecResult types = runner.run(ExecRequest.of(ok, Map.of(), Soon.timeout()));
            assertEquals(0, types.exitStatus(), types.stderrText());
            assertEquals("[\"ext\",\"file\"]\n", types.stdoutText());

            List<String> failing = new ArrayList<>(base);
            failing.addAll(List.of("vdi-stat", "--sr", "x", "--vdi", "y"));
            ExecResult err = runner.run(ExecRequest.of(failing, Map.of(), Soon.timeout()));
            assertEquals(ExitStatus.STORAGE_ERROR, err.exitStatus());
            assertEquals("error: Sr_not_attached: x\n", err.stderrText());
            assertEquals("", err.stdoutText());
        }
    }

    @Test
    void noReplyInTimeExitsThree() throws Exception {
        // a mux that takes calls and never answers them
        servers.add(SwitchQueueServer.start(SwitchAddress.unix(socket), "org.example.slow", 4,
                body -> new CompletableFuture<>(), PATIENT));
        awaitPolled(SwitchAddress.unix(socket), "org.example.slow", true);
        // the 1 s is for the reply alone: connecting and the liveness check may take what they take
        SmctlRun r = SmctlRun.run(SmctlSwitchIT::patientLink, false, "--switch-path", socket.toString(),
                "--queue-prefix", "org.example.slow", "--timeout", "1", "sr-list");
        assertEquals(ExitStatus.UNREACHABLE, r.status(), r.toString());
        assertTrue(r.err().startsWith("error: timed out waiting for queue org.example.slow"), r.err());
    }

    @Test
    void aTcpSwitchIsReachedWithDashDashSwitch() throws Exception {
        try (EmbeddedSwitch tcp = EmbeddedSwitch.start(Optional.empty(),
                Optional.of(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)), dir.resolve("tcp-state"));
             SwitchQueueServer mux = SwitchQueueServer.start(SwitchAddress.tcp("127.0.0.1", tcp.tcpPort()), MUX, 4,
                     new TinyStorage(MUX)::handle, PATIENT)) {
            awaitPolled(SwitchAddress.tcp("127.0.0.1", tcp.tcpPort()), MUX, true);
            SmctlRun r = SmctlRun.run(MessageSwitchLink::connect, false, "--switch", "tcp:127.0.0.1:" + tcp.tcpPort(),
                    "--json", "types");
            assertEquals(0, r.status(), r.toString());
            assertEquals("[\"ext\",\"file\"]\n", r.out());
        }
    }
}
