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
import org.xenstorage.testing.Soon;

/**
 * The README path: no config file, so embedded mode — the daemon serves its own broker under the state
 * directory and the example SMAPIv3 plugin; it tells systemd READY then STOPPING; an SR and a VDI made
 * through the mux become a real file.
 */
class EmbeddedModeIT {
    static final String PREFIX = "org.xen.xapi.storage";
    static final Duration T = Soon.timeout();
    /** Seconds one UPDATES.get long-poll may block (the calls that carry it may take that much longer). */
    static final int POLL = 10;

    static final String RECEIVER = String.join("\n",
            "import socket, sys",
            "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)",
            "s.bind(sys.argv[1])",
            "print('bound', flush=True)",
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
     * The receiver's next line (null at its end). The daemon's notes come when it gets there, so the wait
     * is bounded by the caller, never by how long the test took in between.
     */
    static String nextNote(BufferedReader notes, Duration bound) throws Exception {
        return Soon.get(CompletableFuture.supplyAsync(() -> {
            try {
                return notes.readLine();
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }), bound);
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
            assertEquals("bound", nextNote(notes, Soon.timeout()));
            Path state = dir.resolve("var");
            daemon = DaemonProcess.start(dir.resolve("daemon.log"), Map.of("NOTIFY_SOCKET", notifySock.toString()),
                    "--state-dir=" + state, "--plugin-root=" + repoRoot().resolve("examples/smapiv3"),
                    "--sm-dir=" + repoRoot().resolve("examples/sm"), "--log-level=INFO");
            String ready = nextNote(notes, DaemonProcess.START);
            assertTrue(ready != null && ready.startsWith("READY=1"), ready + "\n" + daemon.output());
            Path sock = state.resolve("message-switch.sock");
            assertTrue(Files.exists(sock), "the embedded broker listens under the state dir");

            try (SwitchRpcClient client = SwitchRpcClient.connect(SwitchAddress.unix(sock), "it",
                    SwitchFixture.PATIENT)) {
                JsonNode types = Json.parse(client.call(PREFIX,
                        "{\"method\":\"Registry.types\",\"params\":[{\"dbg\":\"it\"}],\"id\":1}", T)).get("result");
                assertTrue(types.toString().contains("\"simplefile\"") && types.toString().contains("\"localfile\""),
                        types + "\n" + daemon.output());
                StorageService mux = StorageClient.of(text -> client.callAsync(PREFIX, text, T));
                StorageService polling = StorageClient.of(text -> client.callAsync(PREFIX, text, T.plusSeconds(POLL)));
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
                // each is a few calls, each running plugin scripts
                Made onV3 = Soon.get(a, Soon.times(2));
                Made onV1 = Soon.get(b, Soon.times(2));
                assertTrue(onV1.file().startsWith(v1Dir), onV1.file().toString());
                List<String> srs = mux.sr().list("it");
                assertTrue(srs.containsAll(List.of(v1, v3)), "SR.list merges both backends: " + srs);

                // DATA.copy localfile -> simplefile as a task; a long-poll wakes on its changes
                String[] token = {Soon.get(mux.updates().get("it", "", Optional.of(0))).next()};
                String task = mux.data().copy("it", v1, onV1.vdi().vdi(), "vm1", "", v3, false);
                Soon.await("copy task " + task + " ends, seen by a long-poll", Soon.times(2), () -> {
                    UpdatesResult u = Soon.get(polling.updates().get("it", token[0], Optional.of(POLL)),
                            T.plusSeconds(POLL));
                    token[0] = u.next();
                    return u.ids().contains(new DynamicId.Task(task))
                            && !(mux.task().stat("it", task).state() instanceof TaskState.Pending);
                });
                TaskState end = mux.task().stat("it", task).state();
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

            assertTrue(List.of(0, 143).contains(daemon.terminate()), daemon.output());
            String stopping = nextNote(notes, Soon.timeout());
            while (stopping != null && stopping.startsWith("WATCHDOG")) {
                stopping = nextNote(notes, Soon.timeout());
            }
            assertTrue(stopping != null && stopping.startsWith("STOPPING=1"), String.valueOf(stopping));
            assertTrue(!Files.exists(state.resolve("message-switch.sock")), "the broker removed its socket");
            assertTrue(Files.exists(state.resolve("mux/registry.json")));
        } finally {
            if (daemon != null) {
                daemon.close();
            }
            receiver.destroyForcibly();
            receiver.waitFor(Soon.millis(), TimeUnit.MILLISECONDS);
        }
    }
}
