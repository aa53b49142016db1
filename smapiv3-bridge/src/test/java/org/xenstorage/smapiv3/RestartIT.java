package org.xenstorage.smapiv3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.rpc.StorageClient;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.messageswitch.broker.EmbeddedSwitch;
import org.xenstorage.messageswitch.client.SwitchAddress;
import org.xenstorage.messageswitch.client.SwitchRpcClient;
import org.xenstorage.testing.Soon;

/**
 * The standalone bridge ({@link BridgeMain}) as a real process: attach an SR, {@code kill -9} it,
 * start it again, and the SR is still attached (no second SR.attach runs).
 */
class RestartIT {
    private static final String PREFIX = "org.xenstorage.restart.storage";
    private static final String QUEUE = PREFIX + ".simplefile";

    @TempDir
    Path tmp;
    PluginRoot root;
    EmbeddedSwitch sw;
    Path sock;
    SwitchRpcClient client;
    Process bridge;

    @BeforeEach
    void start() throws Exception {
        root = new PluginRoot(tmp);
        root.copyExamples();
        sock = tmp.resolve("switch.sock");
        sw = EmbeddedSwitch.start(Optional.of(sock), Optional.empty(), tmp.resolve("switch-state"));
        client = SwitchRpcClient.connect(SwitchAddress.unix(sock), "restart-it");
    }

    @AfterEach
    void stop() throws InterruptedException {
        if (bridge != null) {
            bridge.destroyForcibly();
            Soon.exitOf(bridge); // reaped before the next test class can count this JVM's children
        }
        client.close();
        sw.close();
    }

    private Process launch(int n) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                BridgeMain.class.getName(), "--root=" + root.root, "--state-dir=" + root.state,
                "--switch-path=" + sock, "--queue-prefix=" + PREFIX, "--script-timeout=" + Soon.seconds());
        pb.environment().putAll(root.environment());
        pb.redirectErrorStream(true).redirectOutput(tmp.resolve("bridge-" + n + ".log").toFile());
        Process p = pb.start();
        Soon.await("bridge process " + n + " serves " + QUEUE, () -> {
            assertTrue(p.isAlive(), "bridge process died: " + Files.readString(tmp.resolve("bridge-" + n + ".log")));
            return Soon.get(client.list(QUEUE, true)).contains(QUEUE);
        });
        return p;
    }

    @Test
    void attachedSrsSurviveKillNineAndRestart() throws Exception {
        StorageService s = StorageClient.of(text -> client.callAsync(QUEUE, text, Soon.timeout()));
        bridge = launch(1);
        String srPath = tmp.resolve("sr").toString();
        Map<String, String> config = s.sr().create("r", "sr-r", "kept", "d", Map.of("path", srPath), 0);
        s.sr().attach("r", "sr-r", config);
        VdiInfo v = s.vdi().create("r", "sr-r", VdiInfo.defaults("x", "disk").withSizes(8192, 0));
        assertEquals("((sr-r((sr file://" + srPath + ")(uids()))))",
                Files.readString(root.state.resolve("state.db")));

        bridge.destroyForcibly(); // SIGKILL: no shutdown hook, no chance to write anything
        assertEquals(137, Soon.exitOf(bridge));
        // until the switch has seen the dead process's poll end, the queue still shows alive through it, and
        // launch(2) would take that for the new process serving
        Soon.await("the switch saw the killed bridge stop polling",
                () -> !Soon.get(client.list(QUEUE, true)).contains(QUEUE));
        root.newRequests();

        bridge = launch(2);
        assertEquals(List.of("sr-r"), s.sr().list("r"));
        assertEquals("kept", s.sr().stat("r", "sr-r").nameLabel());
        assertEquals(8192, s.vdi().stat("r", "sr-r", v.vdi()).virtualSize());
        List<String> scripts = root.newRequests().stream().map(PluginRoot.Request::script).toList();
        assertTrue(!scripts.contains("SR.attach"), "no re-attach after the restart: " + scripts);
        assertTrue(scripts.contains("SR.stat") && scripts.contains("Volume.stat"), scripts.toString());
    }
}
