package org.xenstorage.daemon.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.daemon.routing.RecordingBackend;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.testing.Soon;

/** The daemon as a process: crash and restart, graceful stop, configuration precedence. */
class DaemonLifecycleIT {
    static final Duration T = Soon.timeout();

    @TempDir
    Path dir;
    SwitchFixture sw;
    RecordingBackend p1 = new RecordingBackend("p1");
    DaemonProcess daemon;

    @BeforeEach
    void start() {
        sw = new SwitchFixture(dir);
    }

    @AfterEach
    void stop() throws Exception {
        if (daemon != null) {
            daemon.close();
        }
        sw.close();
    }

    Path config(String prefix, String... extra) throws Exception {
        Path conf = dir.resolve("daemon.conf");
        StringBuilder b = new StringBuilder(String.join("\n", "mode=host", "switch-path=" + sw.socket,
                "state-dir=" + dir.resolve("state"), "run-dir=" + dir.resolve("run"), "queue-prefix=" + prefix, "smapiv1=false", "smapiv3=false",
                "discovery-interval=300ms", "shutdown-grace=" + Soon.seconds() + "s", ""));
        for (String e : extra) {
            b.append(e).append('\n');
        }
        Files.writeString(conf, b.toString());
        return conf;
    }

    DaemonProcess startDaemon(String prefix, Path conf, String... flags) throws Exception {
        String[] args = new String[flags.length + 1];
        args[0] = "--config=" + conf;
        System.arraycopy(flags, 0, args, 1, flags.length);
        DaemonProcess d = DaemonProcess.start(dir.resolve("daemon.log"), Map.of(), args);
        d.awaitServing(sw.client, prefix);
        return d;
    }

    JsonNode ext(String queue, String method, String params) throws Exception {
        return Json.parse(sw.client.call(queue, "{\"method\":\"" + method + "\",\"params\":[" + params + "],\"id\":1}", T));
    }

    @Test
    void theRegistryAndDatapathsSurviveKill9AndRestart() throws Exception {
        String q = "crash.storage";
        sw.serve(q + ".p1", p1);
        Path conf = config(q);
        daemon = startDaemon(q, conf);
        assertTrue(ext(q, "Registry.register", "{\"dbg\":\"it\",\"sr\":\"s1\",\"sr_type\":\"p1\"}").get("error").isNull());
        StorageService mux = sw.storage(q, T);
        mux.vdi().attach3("it", "vbd/1/xvda", "s1", "v1", "vm1", true);

        daemon.kill9();
        // the switch must see the old mux's poller go, or the queue would look served before the new one polls
        Soon.await("the killed daemon no longer polls " + q, () -> !Soon.get(sw.client.list(q, true)).contains(q));
        daemon = startDaemon(q, conf);

        mux.vdi().create("it", "s1", VdiInfo.defaults("", "after"));
        assertTrue(p1.calls.contains("VDI.create s1"), p1.calls.toString());
        mux.dp().destroy("it", "vbd/1/xvda", false);
        assertTrue(p1.calls.contains("DP.destroy2 vbd/1/xvda s1 v1 vm1 ro"), p1.calls.toString());
        JsonNode list = ext(q, "Registry.list", "{\"dbg\":\"it\"}").get("result");
        assertEquals("p1", list.at("/s1/sr_type").asText());
    }

    @Test
    void sigtermLetsAnInFlightCallFinishThenExits() throws Exception {
        String q = "stop.storage";
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        p1.on("SR.stat", a -> {
            entered.countDown();
            try {
                release.await(Soon.millis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            throw new StorageException(new StorageError.BackendError("FINISHED", List.of("late")));
        });
        sw.serve(q + ".p1", p1);
        daemon = startDaemon(q, config(q), "--log-level=INFO");
        assertTrue(ext(q, "Registry.register", "{\"dbg\":\"it\",\"sr\":\"s1\",\"sr_type\":\"p1\"}").get("error").isNull());
        // the call lasts until the test releases it, after waits of its own
        StorageService mux = sw.storage(q, Soon.times(3));
        CompletableFuture<StorageError> inFlight = CompletableFuture.supplyAsync(
                () -> assertThrows(StorageException.class, () -> mux.sr().stat("it", "s1")).error());
        assertTrue(entered.await(Soon.millis(), TimeUnit.MILLISECONDS));

        daemon.process.destroy(); // SIGTERM
        // the daemon has taken the signal, then has had time to exit if it did not wait for the call
        Soon.await("the daemon starts its shutdown", () -> daemon.output().contains("shutting down"));
        Thread.sleep(500);
        assertTrue(daemon.process.isAlive(), "the daemon waits for the call in flight");
        release.countDown();

        assertEquals(new StorageError.BackendError("FINISHED", List.of("late")), Soon.get(inFlight));
        int code = Soon.exitOf(daemon.process);
        assertTrue(code == 0 || code == 143, "exit code " + code);
        String log = daemon.output();
        assertTrue(log.contains("storage daemon stopped"), log);
        // every line of a call carries its dbg and queue
        assertTrue(log.lines().anyMatch(l -> l.contains("queue=stop.storage") && l.contains("dbg=it")), log);
    }

    @Test
    void flagsWinOverTheConfigFile() throws Exception {
        Path conf = config("from.file");
        daemon = startDaemon("from.flag", conf, "--queue-prefix=from.flag");
        assertFalse(Soon.get(sw.client.list("from.file", true)).contains("from.file"));
        assertEquals("mux", sw.storage("from.flag", T).query().query("it").driver());
    }

    @Test
    void roleSmapiv3BridgeServesOnlyThePluginQueues() throws Exception {
        String q = "bridge.storage";
        Path conf = config(q, "role=smapiv3-bridge", "smapiv3=true", "state=" + dir.resolve("v3/state.db"),
                "plugin-root=" + EmbeddedModeIT.repoRoot().resolve("examples/smapiv3"));
        DaemonProcess d = DaemonProcess.start(dir.resolve("bridge.log"), Map.of(), "--config=" + conf);
        daemon = d;
        d.awaitServing(sw.client, q + ".simplefile");
        assertEquals("SMAPIv3", sw.storage(q + ".simplefile", T).query().query("it").smapiVersion().name());
        assertFalse(Soon.get(sw.client.list(q, true)).contains(q), "no mux in this role");
    }

    @Test
    void aBadConfigurationExitsWithStatus2AndSaysWhy() throws Exception {
        Path conf = config("bad.storage", "workers=lots");
        DaemonProcess d = DaemonProcess.start(dir.resolve("bad.log"), Map.of(), "--config=" + conf);
        assertEquals(2, Soon.exitOf(d.process), d.output());
        assertTrue(d.output().contains("workers must be a positive integer"), d.output());
    }
}
