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
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.daemon.routing.RecordingBackend;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.DynamicId;
import org.xenstorage.idl.types.TaskState;
import org.xenstorage.idl.types.UpdatesResult;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.testing.Soon;

/**
 * The mux in a real daemon process, over the real embedded broker, in front of two backends served on
 * the switch by this test (acceptance tests 20, 21, 24, 30 and the extension calls).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MuxOverSwitchIT {
    static final String PREFIX = "it.storage";
    /** The mux's own call timeout is {@link Soon#timeout()}: a caller of the mux waits longer. */
    static final Duration T = Soon.times(2);
    /** Long-polls that must still be waiting when the test looks: longer than anything the test waits for. */
    static final int LONG_POLL = (int) Soon.times(2).toSeconds();
    /** A small worker pool, so it is full before the thread count below is taken. */
    static final int WORKERS = 8;

    Path dir;
    SwitchFixture sw;
    DaemonProcess daemon;
    RecordingBackend p1 = new RecordingBackend("p1");
    RecordingBackend p2 = new RecordingBackend("p2");
    CountDownLatch slowEntered = new CountDownLatch(1);
    CountDownLatch slowRelease = new CountDownLatch(1);
    StorageService mux;

    @BeforeAll
    void start(@TempDir Path tmp) throws Exception {
        dir = tmp;
        sw = new SwitchFixture(dir);
        p2.on("SR.stat", a -> { // a slow backend call, to prove calls to two backends run at once
            slowEntered.countDown();
            try {
                slowRelease.await(Soon.millis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            throw new StorageException(new StorageError.BackendError("SLOW_DONE", List.of()));
        });
        sw.serve(PREFIX + ".p1", p1);
        sw.serve(PREFIX + ".p2", p2);
        Path conf = dir.resolve("daemon.conf");
        Files.writeString(conf, String.join("\n", "mode=host", "switch-path=" + sw.socket,
                "state-dir=" + dir.resolve("state"), "run-dir=" + dir.resolve("run"), "queue-prefix=" + PREFIX, "smapiv1=false", "smapiv3=false",
                "discovery-interval=300ms", "call-timeout=" + Soon.seconds() + "s", "workers=" + WORKERS, ""));
        daemon = DaemonProcess.start(dir.resolve("daemon.log"), Map.of(), "--config=" + conf);
        daemon.awaitServing(sw.client, PREFIX);
        mux = sw.storage(PREFIX, T);
        register("s1", "p1");
        register("s2", "p2");
    }

    @AfterAll
    void stop() throws Exception {
        slowRelease.countDown();
        if (daemon != null) {
            daemon.close();
        }
        if (sw != null) {
            sw.close();
        }
    }

    JsonNode ext(String method, String params) throws Exception {
        String reply = sw.client.call(PREFIX, "{\"method\":\"" + method + "\",\"params\":[" + params + "],\"id\":3}", T);
        return Json.parse(reply);
    }

    void register(String sr, String type) throws Exception {
        JsonNode r = ext("Registry.register", "{\"dbg\":\"it\",\"sr\":\"" + sr + "\",\"sr_type\":\"" + type + "\"}");
        assertTrue(r.get("error").isNull(), () -> r + "\n" + daemon.output());
    }

    @Test
    void routesToTwoBackendsAtOnce() throws Exception {
        CompletableFuture<Void> slow = CompletableFuture.runAsync(() -> assertThrows(StorageException.class,
                () -> mux.sr().stat("it", "s2")));
        assertTrue(slowEntered.await(Soon.millis(), TimeUnit.MILLISECONDS), "p2 got SR.stat");
        // while p2 is busy, s1's calls go to p1 and come back
        VdiInfo v = mux.vdi().create("it", "s1", VdiInfo.defaults("", "disk1"));
        assertEquals("p1-disk1", v.vdi());
        assertEquals(v, mux.vdi().stat("it", "s1", "p1-disk1"));
        assertTrue(p1.calls.contains("VDI.create s1"));
        assertTrue(p2.callsOf("VDI.create").isEmpty());
        slowRelease.countDown();
        Soon.get(slow);
    }

    @Test
    void srListMergesBothBackends() {
        mux.sr().attach("it", "s1", Map.of());
        mux.sr().attach("it", "s2", Map.of());
        p2.attached.add("z-extra");
        List<String> all = mux.sr().list("it");
        assertTrue(all.containsAll(List.of("s1", "s2", "z-extra")), all.toString());
        assertEquals(all.stream().sorted().distinct().toList(), all);
    }

    @Test
    void unknownSrIsNoStoragePluginForSr() {
        StorageException e = assertThrows(StorageException.class, () -> mux.vdi().stat("it", "nope", "v"));
        assertEquals(new StorageError.NoStoragePluginForSr("nope"), e.error());
        StorageException e2 = assertThrows(StorageException.class,
                () -> mux.vdi().attach3("it", "dp", "nope", "v", "vm", true));
        assertEquals(new StorageError.NoStoragePluginForSr("nope"), e2.error());
    }

    /**
     * Issue 14.4: a xen-api v25.11.0 xapi's DATA.MIRROR requests (its bytes) reach the real daemon over the switch:
     * import_activate/get_nbd_server are forwarded under their own name to the SR's backend, start and stop are
     * answered by the daemon's storage-migrate service (start runs a task, failed here: its url names no endpoint
     * token), never UnknownMethod.
     */
    @Test
    void v25MirrorCallsOverTheSwitch() throws Exception {
        p1.on("DATA.MIRROR.import_activate", a -> "/run/import-" + a[2]);
        p1.on("DATA.MIRROR.get_nbd_server", a -> "/run/nbd-" + a[2]);
        for (String m : List.of("import_activate", "get_nbd_server")) {
            JsonNode r = ext("DATA.MIRROR." + m, "{\"vm\":\"vm1\",\"vdi\":\"v1\",\"sr\":\"s1\",\"dp\":\"dp1\",\"dbg\":\"it\"}");
            assertEquals(Json.parse("\"/run/" + (m.equals("import_activate") ? "import" : "nbd") + "-s1\""), r.get("result"),
                    r::toString);
            assertTrue(p1.calls.contains("DATA.MIRROR." + m + " dp1 s1 v1 vm1"), p1.calls::toString);
        }
        String task = ext("DATA.MIRROR.start", "{\"verify_dest\":false,\"dest\":\"s2\",\"url\":\"http://h/services/SM\","
                + "\"copy_vm\":\"c\",\"mirror_vm\":\"m\",\"dp\":\"dp1\",\"vdi\":\"v1\",\"sr\":\"s1\",\"dbg\":\"it\"}")
                .get("result").asText();
        Soon.await("the mirror task ends", () -> !(mux.task().stat("it", task).state()
                instanceof org.xenstorage.idl.types.TaskState.Pending));
        JsonNode failed = ((org.xenstorage.idl.types.TaskState.Failed) mux.task().stat("it", task).state()).error();
        assertEquals("Migration_preparation_failure", failed.get(0).asText(), failed::toString);
        assertTrue(failed.get(1).asText().startsWith("DATA.MIRROR.start: the destination invalid remote URL"),
                failed::toString);
        assertEquals(Json.parse("[\"Does_not_exist\",[\"mirror\",\"s1/v1\"]]"),
                ext("DATA.MIRROR.stop", "{\"id\":\"s1/v1\",\"dbg\":\"it\"}").get("error"));
    }

    @Test
    void badExtensionInputGetsClearErrorsAndTheServiceStaysUp() throws Exception {
        assertEquals(Json.parse("[\"Backend_error\",[\"SR_UNKNOWN_DRIVER\",[\"../../etc\"]]]"),
                ext("Registry.register", "{\"dbg\":\"it\",\"sr\":\"s9\",\"sr_type\":\"../../etc\"}").get("error"));
        assertEquals(Json.parse("[\"Backend_error\",[\"SR_UNKNOWN_DRIVER\",[\"absent\"]]]"),
                ext("Registry.register", "{\"dbg\":\"it\",\"sr\":\"s9\",\"sr_type\":\"absent\"}").get("error"));
        assertTrue(ext("Registry.register", "{\"dbg\":\"it\"}").at("/error/1").asText()
                .contains("Expecting named argument"));
        JsonNode garbage = Json.parse(sw.client.call(PREFIX, "this is not json", T));
        assertEquals("Internal_error", garbage.at("/error/0").asText());
        assertEquals("mux", mux.query().query("it").driver());
        JsonNode types = ext("Registry.types", "{\"dbg\":\"it\"}").get("result");
        assertEquals(Json.parse("[\"p1\",\"p2\"]"), types);
        JsonNode diag = ext("Mux.diagnostics", "{\"dbg\":\"it\"}").get("result");
        assertEquals("p1", diag.at("/srs/s1/sr_type").asText());
        assertTrue(diag.at("/backends/p2/alive").asBoolean());
    }

    @Test
    void mirrorHooksAnswerForAVdiThisDaemonDoesNotSend() {
        // the daemon serves storage-migrate's DATA.MIRROR on its mux queue, the sender's hooks included (upstream
        // calls them in-process; here a client such as smctl calls them): nothing sent, nothing failed
        assertFalse(mux.dataMirror().hasMirrorFailed("it", "s1/v", "s1"));
        mux.dataMirror().preDeactivateHook("it", "dp", "s1", "v");
        assertTrue(mux.dataMirror().list("it").isEmpty());
    }

    @Test
    void aBlockedLongPollWakesWhenATaskChanges() throws Exception {
        String token = Soon.get(mux.updates().get("it", "", Optional.of(0))).next();
        CompletableFuture<UpdatesResult> poll = mux.updates().get("it", token, Optional.of(60));
        Thread.sleep(300);
        assertTrue(!poll.isDone(), "nothing happened yet");
        // a DATA.copy whose source backend cannot scan: the task fails at once, and that is a change
        String task = mux.data().copy("it", "s1", "v", "vm", "", "s2", false);
        UpdatesResult r = Soon.get(poll);
        assertTrue(r.ids().contains(new DynamicId.Task(task)), r.toString());
        assertTrue(Long.parseLong(r.next()) > Long.parseLong(token));
        TaskState st = mux.task().stat("it", task).state();
        assertTrue(st instanceof TaskState.Failed, st.toString());
        mux.task().destroy("it", task);
        UpdatesResult after = Soon.get(mux.updates().get("it", "", Optional.of(0)));
        assertTrue(!after.ids().contains(new DynamicId.Task(task)), "a destroyed task is no longer reported");
    }

    @Test
    void twoThousandIdleLongPollsAddNoThreadsToTheDaemon() throws Exception {
        long pid = daemon.process.pid();
        // the worker pool starts a thread for each call until it is full, and the wait below calls it as often
        // as the machine's speed makes it: fill it first, so the count compares the pollers alone
        int waiting = 0;
        for (int i = 0; i < WORKERS; i++) {
            waiting = ext("Mux.diagnostics", "{\"dbg\":\"it\"}").at("/result/updates/waiting_pollers").asInt();
        }
        int before = threads(pid);
        List<CompletableFuture<UpdatesResult>> polls = new java.util.ArrayList<>();
        for (int i = 0; i < 2000; i++) {
            polls.add(mux.updates().get("it", "", Optional.of(LONG_POLL)));
        }
        int expected = waiting + 2000; // other tests' long-polls may still wait
        Soon.await("the daemon holds all 2000 long-polls", () -> ext("Mux.diagnostics", "{\"dbg\":\"it\"}")
                .at("/result/updates/waiting_pollers").asInt() >= expected);
        int during = threads(pid);
        assertTrue(during < before + 40, "threads before " + before + ", with 2000 pollers " + during);
        assertEquals("mux", mux.query().query("it").driver());
        polls.forEach(p -> p.cancel(true));
    }

    static int threads(long pid) throws java.io.IOException {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("Threads:")) {
                return Integer.parseInt(line.substring(8).trim());
            }
        }
        throw new AssertionError("no thread count for " + pid);
    }

    @Test
    void updatesGetTimesOutWhenIdleAndIdlePollersDoNotStarveOtherCalls() throws Exception {
        long t0 = System.nanoTime();
        UpdatesResult r = Soon.get(mux.updates().get("it", "", Optional.of(1)));
        double took = (System.nanoTime() - t0) / 1e9;
        assertEquals(List.of(), r.ids());
        assertEquals("0", r.next());
        // 1 s asked: it waited, and it ended by its own timeout, well before the call's (T)
        assertTrue(took >= 0.9 && took < Soon.seconds(), "took " + took);
        // 64 blocked long-polls, then ordinary calls still get through
        List<CompletableFuture<UpdatesResult>> polls = new java.util.ArrayList<>();
        for (int i = 0; i < 64; i++) {
            polls.add(mux.updates().get("it", "", Optional.of(LONG_POLL)));
        }
        assertEquals("mux", mux.query().query("it").driver());
        assertEquals(new StorageError.NoStoragePluginForSr("nope"),
                assertThrows(StorageException.class, () -> mux.sr().stat("it", "nope")).error());
        assertTrue(polls.stream().noneMatch(CompletableFuture::isDone), "the long-polls are still waiting");
        polls.forEach(p -> p.cancel(true));
    }
}
