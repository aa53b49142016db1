package org.xenstorage.smctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
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
import org.xenstorage.messageswitch.broker.EmbeddedSwitch;
import org.xenstorage.messageswitch.client.SwitchAddress;
import org.xenstorage.messageswitch.client.SwitchOptions;
import org.xenstorage.messageswitch.client.SwitchQueueServer;
import org.xenstorage.messageswitch.client.SwitchRpcClient;
import org.xenstorage.testing.Soon;

/**
 * smctl's fast path against the real embedded message-switch: the blocking {@link BlockingSwitchLink} gives the
 * same output, error text and exit status as the Netty client through picocli (types, sr-list, the registry
 * commands), over a Unix socket and TCP; a
 * reply that does not come in time, a queue nobody serves and a missing switch fail as they do there; and a
 * separate {@code java} process running {@code smctl types} loads neither picocli nor Netty.
 */
class SmctlFastIT {
    private static final String MUX = "org.xen.xapi.storage";
    private static final SwitchOptions PATIENT = SwitchOptions.defaults().withConnectTimeout(Soon.timeout());

    @TempDir
    Path dir;
    private EmbeddedSwitch embedded;
    private Path socket;
    private final List<SwitchQueueServer> servers = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        socket = dir.resolve("message-switch.sock");
        embedded = EmbeddedSwitch.start(Optional.of(socket), Optional.empty(), dir.resolve("switch-state"));
        servers.add(SwitchQueueServer.start(SwitchAddress.unix(socket), MUX, 4, new TinyStorage(MUX)::handle, PATIENT));
        SmctlSwitchIT.awaitPolled(SwitchAddress.unix(socket), MUX, true);
    }

    @AfterEach
    void stop() {
        servers.forEach(SwitchQueueServer::close);
        embedded.close();
    }

    /** A run through the fast path (over the blocking link) or through picocli (over the Netty client). */
    private static SmctlRun run(boolean fast, String... args) {
        if (fast) {
            assertTrue(FastPath.parse(args) != null, "not a fast line: " + List.of(args));
        }
        return SmctlRun.capture(false, t -> fast
                ? Smctl.run(args, t, (a, d) -> {
                    throw new AssertionError("picocli path used");
                }, BlockingSwitchLink::connect)
                : PicocliRun.run(args, t, MessageSwitchLink::connect));
    }

    private String[] line(String... args) {
        List<String> all = new ArrayList<>(List.of("--switch-path", socket.toString(), "--dbg", "it",
                "--timeout", String.valueOf(Soon.seconds())));
        all.addAll(List.of(args));
        return all.toArray(String[]::new);
    }

    @Test
    void fastRunsMatchTheNettyClientRuns() {
        List<String[]> lines = List.of(
                line("types"), line("--json", "types"), line("sr-list"), line("--json", "sr-list"), line("sr-registry"),
                line("sr-register", "--sr", "s1", "--type", "ext"), line("sr-registry"), line("--json", "sr-registry"),
                line("sr-unregister", "--sr", "s1"), line("sr-registry"),
                line("sr-register", "--sr", "s2", "--type", "nfs"),
                line("--queue-prefix", "org.example.nobody", "types"),
                new String[] {"--switch-path", dir.resolve("no-such.sock").toString(), "types"});
        for (String[] args : lines) {
            SmctlRun netty = run(false, args);
            SmctlRun fast = run(true, args);
            assertEquals(netty, fast, "smctl " + String.join(" ", args));
        }
        assertEquals("ext\nfile\n", run(true, line("types")).out());
    }

    @Test
    void aSocketNobodyListensOnExitsThree() throws Exception {
        // a socket file left behind by a dead switch
        Path stale = dir.resolve("stale.sock");
        try (var server = java.nio.channels.ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
            server.bind(java.net.UnixDomainSocketAddress.of(stale));
        }
        assertTrue(Files.exists(stale));
        SmctlRun fast = run(true, "--switch-path", stale.toString(), "types");
        assertEquals(ExitStatus.UNREACHABLE, fast.status(), fast.toString());
        assertTrue(fast.err().startsWith("error: cannot reach the message-switch at unix:" + stale
                + ": cannot connect to the message-switch at unix:" + stale + ": "), fast.err());
    }

    @Test
    void noReplyInTimeExitsThreeWithTheNettyPathsWords() throws Exception {
        servers.add(SwitchQueueServer.start(SwitchAddress.unix(socket), "org.example.slow", 4,
                body -> new CompletableFuture<>(), PATIENT));
        SmctlSwitchIT.awaitPolled(SwitchAddress.unix(socket), "org.example.slow", true);
        String[] args = {"--switch-path", socket.toString(), "--queue-prefix", "org.example.slow", "--timeout", "1",
            "types"};
        SmctlRun fast = run(true, args);
        assertEquals(ExitStatus.UNREACHABLE, fast.status(), fast.toString());
        assertEquals("error: timed out waiting for queue org.example.slow: no reply from org.example.slow within "
                + "1000 ms (see --timeout)\n", fast.err());
    }

    @Test
    void aTcpSwitchIsReachedWithDashDashSwitch() throws Exception {
        try (EmbeddedSwitch tcp = EmbeddedSwitch.start(Optional.empty(),
                Optional.of(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)), dir.resolve("tcp-state"));
             SwitchQueueServer mux = SwitchQueueServer.start(SwitchAddress.tcp("127.0.0.1", tcp.tcpPort()), MUX, 4,
                     new TinyStorage(MUX)::handle, PATIENT)) {
            SmctlSwitchIT.awaitPolled(SwitchAddress.tcp("127.0.0.1", tcp.tcpPort()), MUX, true);
            SmctlRun r = run(true, "--switch", "tcp:127.0.0.1:" + tcp.tcpPort(), "--json", "types");
            assertEquals(0, r.status(), r.toString());
            assertEquals("[\"ext\",\"file\"]\n", r.out());
        }
    }

    @Test
    void oneLinkServesCallsInTurnAndItsReplyQueueGoesWithIt() throws Exception {
        String body = "{\"method\":\"Registry.types\",\"params\":[{\"dbg\":\"it\"}],\"id\":1}";
        String replyQueue;
        try (SwitchLink link = BlockingSwitchLink.connect(SwitchAddress.unix(socket), Soon.timeout());
             SwitchRpcClient watcher = SwitchRpcClient.connect(SwitchAddress.unix(socket), "it-watch", PATIENT)) {
            for (int i = 0; i < 3; i++) {
                String reply = link.call(MUX, body, Soon.timeout()).get();
                assertTrue(reply.contains("\"result\":[\"ext\",\"file\"]"), reply);
            }
            assertTrue(link.queues(MUX, true, Soon.timeout()).contains(MUX));
            List<String> mine = Soon.get(watcher.list("client-smctl-" + ProcessHandle.current().pid(), false));
            assertEquals(1, mine.size(), mine.toString());
            replyQueue = mine.get(0);
            link.close();
            Soon.await("the reply queue is gone with its session",
                    () -> !Soon.get(watcher.list(replyQueue, false)).contains(replyQueue));
        }
    }

    @Test
    void aSeparateJavaProcessRunsTypesWithoutPicocliOrNetty() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = List.of(java, "-verbose:class", "-cp", System.getProperty("java.class.path"),
                "org.xenstorage.smctl.Smctl", "--switch-path", socket.toString(), "types");
        try (ChildProcessRunner runner = new ChildProcessRunner()) {
            ExecResult r = runner.run(ExecRequest.of(cmd, Map.of(), Soon.timeout()));
            assertEquals(0, r.exitStatus(), r.stderrText());
            String out = r.stdoutText();
            assertTrue(out.contains("\next\nfile\n"), out.substring(Math.max(0, out.length() - 2000)));
            assertFalse(out.contains(" picocli."), "picocli loaded");
            assertFalse(out.contains(" io.netty."), "Netty loaded");
            assertFalse(out.contains(" com.fasterxml.jackson.databind.ObjectMapper "), "an ObjectMapper built");
        }
    }
}
