package org.xenstorage.daemon.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.rpc.StorageClient;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.Implementation;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.messageswitch.client.SwitchAddress;
import org.xenstorage.messageswitch.client.SwitchRpcClient;

/**
 * The README path: no config file, so embedded mode — the daemon serves its own broker under the state
 * directory and the example SMAPIv3 plugin; it tells systemd READY then STOPPING; an SR and a VDI made
 * through the mux become a real file.
 */
class EmbeddedModeIT {
    static final String PREFIX = "org.xen.xapi.storage";
    static final Duration T = Duration.ofSeconds(30);

    static final String RECEIVER = String.join("\n",
            "import socket, sys",
            "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)",
            "s.bind(sys.argv[1])",
            "print('bound', flush=True)",
            "s.settimeout(120)",
            "while True:",
            "    print(s.recv(4096).decode().replace('\\n', '|'), flush=True)");

    @TempDir
    Path dir;

    static Path repoRoot() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.isDirectory(p.resolve("examples"))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new AssertionError("cannot find the repository's examples/ directory");
        }
        return p;
    }

    @Test
    void noConfigMeansEmbeddedModeServingTheExamplePlugin() throws Exception {
        Path notifySock = dir.resolve("notify.sock");
        Process receiver = new ProcessBuilder("python3", "-c", RECEIVER, notifySock.toString()).start();
        BufferedReader notes = new BufferedReader(new InputStreamReader(receiver.getInputStream(), StandardCharsets.UTF_8));
        DaemonProcess daemon = null;
        try {
            assertEquals("bound", notes.readLine());
            Path state = dir.resolve("var");
            daemon = DaemonProcess.start(dir.resolve("daemon.log"), Map.of("NOTIFY_SOCKET", notifySock.toString()),
                    "--state-dir=" + state, "--plugin-root=" + repoRoot().resolve("examples/smapiv3"),
                    "--smapiv1=false", "--log-level=INFO");
            String ready = notes.readLine();
            assertTrue(ready != null && ready.startsWith("READY=1"), ready + "\n" + daemon.output());
            Path sock = state.resolve("message-switch.sock");
            assertTrue(Files.exists(sock), "the embedded broker listens under the state dir");

            try (SwitchRpcClient client = SwitchRpcClient.connect(SwitchAddress.unix(sock), "it")) {
                JsonNode types = Json.parse(client.call(PREFIX,
                        "{\"method\":\"Registry.types\",\"params\":[{\"dbg\":\"it\"}],\"id\":1}", T)).get("result");
                assertTrue(types.toString().contains("\"simplefile\""), types + "\n" + daemon.output());
                JsonNode reg = Json.parse(client.call(PREFIX, "{\"method\":\"Registry.register\",\"params\":[{\"dbg\":"
                        + "\"it\",\"sr\":\"sr-a\",\"sr_type\":\"simplefile\"}],\"id\":2}", T));
                assertTrue(reg.get("error").isNull(), reg + "\n" + daemon.output());

                StorageService mux = StorageClient.of(text -> client.callAsync(PREFIX, text, T));
                Path srDir = dir.resolve("sr-a");
                Files.createDirectories(srDir);
                Map<String, String> config = Map.of("path", srDir.toString());
                mux.sr().create("it", "sr-a", "SR A", "", config, 0);
                mux.sr().attach("it", "sr-a", config);
                assertTrue(mux.sr().list("it").contains("sr-a"));
                VdiInfo req = new VdiInfo("", Optional.empty(), "", "disk", "", "user", "", false,
                        VdiInfo.EPOCH, "", false, false, 1 << 20, 0, true, false, Map.of(), List.of());
                VdiInfo vdi = mux.vdi().create("it", "sr-a", req);
                Backend backend = mux.vdi().attach3("it", "dp1", "sr-a", vdi.vdi(), "vm1", true);
                mux.vdi().activate3("it", "dp1", "sr-a", vdi.vdi(), "vm1");
                String path = backend.first(Implementation.File.class).map(f -> f.value().path())
                        .or(() -> backend.first(Implementation.BlockDevice.class).map(b -> b.value().path()))
                        .orElseThrow(() -> new AssertionError("no file in " + backend));
                assertTrue(Files.exists(Path.of(path)), path);
                assertEquals(1 << 20, Files.size(Path.of(path)));
                mux.vdi().deactivate("it", "dp1", "sr-a", vdi.vdi(), "vm1");
                mux.vdi().detach("it", "dp1", "sr-a", vdi.vdi(), "vm1");
                mux.sr().detach("it", "sr-a");
            }

            assertTrue(List.of(0, 143).contains(daemon.terminate(T)), daemon.output());
            String stopping = notes.readLine();
            while (stopping != null && stopping.startsWith("WATCHDOG")) {
                stopping = notes.readLine();
            }
            assertTrue(stopping != null && stopping.startsWith("STOPPING=1"), String.valueOf(stopping));
            assertTrue(!Files.exists(state.resolve("message-switch.sock")), "the broker removed its socket");
            assertTrue(Files.exists(state.resolve("mux/registry.json")));
        } finally {
            if (daemon != null) {
                daemon.close();
            }
            receiver.destroyForcibly();
            receiver.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
