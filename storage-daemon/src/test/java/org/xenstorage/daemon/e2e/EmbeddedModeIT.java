package org.xenstorage.daemon.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
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
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.rpc.StorageClient;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.AsyncResult;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.DynamicId;
import org.xenstorage.idl.types.TaskState;
import org.xenstorage.idl.types.UpdatesResult;
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

    static void register(SwitchRpcClient client, String sr, String type) {
        try {
            JsonNode reg = Json.parse(client.call(PREFIX, "{\"method\":\"Registry.register\",\"params\":[{\"dbg\":"
                    + "\"it\",\"sr\":\"" + sr + "\",\"sr_type\":\"" + type + "\"}],\"id\":2}", T));
            assertTrue(reg.get("error").isNull(), reg.toString());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    record Made(VdiInfo vdi, Path file) {
    }

    /**
     * Creates, attaches, activates a 1 MiB VDI on {@code sr}, writes a pattern at 64 KiB into the file behind
     * it, then deactivates and detaches it.
     */
    static Made exercise(StorageService mux, String sr, Map<String, String> config) {
        mux.sr().create("it", sr, "SR " + sr, "", config, 0);
        mux.sr().attach("it", sr, config);
        VdiInfo vdi = mux.vdi().create("it", sr, VdiInfo.defaults("", "disk").withSizes(1 << 20, 0));
        String dp = "vbd/" + sr + "/xvda";
        Backend backend = mux.vdi().attach3("it", dp, sr, vdi.vdi(), "vm1", true);
        mux.vdi().activate3("it", dp, sr, vdi.vdi(), "vm1");
        Path path = Path.of(backend.first(Implementation.File.class).map(f -> f.value().path())
                .or(() -> backend.first(Implementation.BlockDevice.class).map(x -> x.value().path()))
                .orElseThrow(() -> new AssertionError("no file in " + backend)));
        try {
            assertTrue(Files.exists(path), path.toString());
            assertEquals(1 << 20, Files.size(path));
            try (var ch = java.nio.channels.FileChannel.open(path, java.nio.file.StandardOpenOption.WRITE)) {
                ch.write(java.nio.ByteBuffer.wrap(PATTERN), 65536);
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        mux.vdi().deactivate("it", dp, sr, vdi.vdi(), "vm1");
        mux.vdi().detach("it", dp, sr, vdi.vdi(), "vm1");
        return new Made(vdi, path);
    }

    static final byte[] PATTERN = "the bytes that must survive DATA.copy".getBytes(StandardCharsets.UTF_8);

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
                    "--sm-dir=" + repoRoot().resolve("examples/sm"), "--log-level=INFO");
            String ready = notes.readLine();
            assertTrue(ready != null && ready.startsWith("READY=1"), ready + "\n" + daemon.output());
            Path sock = state.resolve("message-switch.sock");
            assertTrue(Files.exists(sock), "the embedded broker listens under the state dir");

            try (SwitchRpcClient client = SwitchRpcClient.connect(SwitchAddress.unix(sock), "it")) {
                JsonNode types = Json.parse(client.call(PREFIX,
                        "{\"method\":\"Registry.types\",\"params\":[{\"dbg\":\"it\"}],\"id\":1}", T)).get("result");
                assertTrue(types.toString().contains("\"simplefile\"") && types.toString().contains("\"localfile\""),
                        types + "\n" + daemon.output());
                StorageService mux = StorageClient.of(text -> client.callAsync(PREFIX, text, T));
                String v3 = UUID.randomUUID().toString();
                String v1 = UUID.randomUUID().toString();
                register(client, v3, "simplefile");
                register(client, v1, "localfile");
                Path v3Dir = dir.resolve("sr-v3");
                Path v1Dir = dir.resolve("sr-v1");
                Files.createDirectories(v3Dir);
                Files.createDirectories(v1Dir);
                // both SRs at once: each call goes to its own backend
                CompletableFuture<Made> a = CompletableFuture.supplyAsync(
                        () -> exercise(mux, v3, Map.of("path", v3Dir.toString())));
                CompletableFuture<Made> b = CompletableFuture.supplyAsync(
                        () -> exercise(mux, v1, Map.of("location", v1Dir.toString())));
                Made onV3 = a.get(60, TimeUnit.SECONDS);
                Made onV1 = b.get(60, TimeUnit.SECONDS);
                assertTrue(onV1.file().startsWith(v1Dir), onV1.file().toString());
                List<String> srs = mux.sr().list("it");
                assertTrue(srs.containsAll(List.of(v1, v3)), "SR.list merges both backends: " + srs);

                // DATA.copy localfile -> simplefile as a task; a long-poll wakes on its changes
                String token = mux.updates().get("it", "", Optional.of(0)).get(10, TimeUnit.SECONDS).next();
                String task = mux.data().copy("it", v1, onV1.vdi().vdi(), "vm1", "", v3, false);
                TaskState end = null;
                for (int i = 0; i < 100 && end == null; i++) {
                    UpdatesResult u = mux.updates().get("it", token, Optional.of(30)).get(40, TimeUnit.SECONDS);
                    token = u.next();
                    if (u.ids().contains(new DynamicId.Task(task))) {
                        TaskState st = mux.task().stat("it", task).state();
                        if (!(st instanceof TaskState.Pending)) {
                            end = st;
                        }
                    }
                }
                TaskState.Completed done = assertInstanceOf(TaskState.Completed.class, end, String.valueOf(end));
                VdiInfo copy = ((AsyncResult.VdiInfoResult) done.completion().result().orElseThrow()).value();
                Backend cb = mux.vdi().attach3("it", "copy-dp", v3, copy.vdi(), "vm1", false);
                Path copied = Path.of(cb.first(Implementation.File.class).map(f -> f.value().path())
                        .or(() -> cb.first(Implementation.BlockDevice.class).map(x -> x.value().path())).orElseThrow());
                assertArrayEquals(Files.readAllBytes(onV1.file()), Files.readAllBytes(copied));
                mux.vdi().detach("it", "copy-dp", v3, copy.vdi(), "vm1");
                assertTrue(mux.task().list("it").stream().anyMatch(t -> t.id().equals(task)));
                mux.task().destroy("it", task);
                assertEquals(new StorageError.DoesNotExist("task", task),
                        assertThrows(StorageException.class, () -> mux.task().stat("it", task)).error());
                mux.sr().detach("it", v3);
                mux.sr().detach("it", v1);
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
