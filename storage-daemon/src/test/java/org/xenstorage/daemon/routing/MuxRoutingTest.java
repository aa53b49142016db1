package org.xenstorage.daemon.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.daemon.registry.SrRegistry;
import org.xenstorage.daemon.task.DaemonTasks;
import org.xenstorage.daemon.updates.UpdateLog;
import org.xenstorage.daemon.updates.UpdatesService;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.rpc.StorageClient;
import org.xenstorage.idl.types.AttachInfo;
import org.xenstorage.idl.types.SrVdi;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.migrate.task.TaskTable;
import org.xenstorage.testing.Soon;
import org.xenstorage.threads.EventLoopGuard;

/**
 * The mux's routing rules (spec wrapper-mux 3.2-3.5, acceptance tests 20-23) as pure logic: two recording
 * backends behind an in-memory link, the mux reached through its real request handler.
 */
class MuxRoutingTest {
    static final String PREFIX = "org.xen.xapi.storage";

    @TempDir
    Path dir;
    ScheduledExecutorService scheduler;
    InMemoryLink link;
    RecordingBackend p1;
    RecordingBackend p2;
    MuxServer server;
    StorageService client;
    Mux mux;

    @BeforeEach
    void setUp() throws Exception {
        scheduler = Executors.newSingleThreadScheduledExecutor();
        link = new InMemoryLink();
        p1 = new RecordingBackend("p1", List.of("VDI_ACTIVATE_READONLY"));
        p2 = new RecordingBackend("p2");
        link.queues.put(PREFIX + ".p1", p1.dispatcher());
        link.queues.put(PREFIX + ".p2", p2.dispatcher());
        start(Soon.timeout());
    }

    private void start(Duration callTimeout) throws Exception {
        start(callTimeout, callTimeout);
    }

    private void start(Duration callTimeout, Duration fanoutTimeout) throws Exception {
        // every lookup lists the queues again: what the link says is what the mux sees
        BackendDirectory directory = new BackendDirectory(link, PREFIX, Duration.ofMillis(1), 0);
        mux = new Mux(SrRegistry.load(dir.resolve("registry.json")), DpInfoStore.open(dir.resolve("dps")), directory,
                link, callTimeout, fanoutTimeout);
        UpdateLog log = new UpdateLog(1, scheduler);
        TaskTable tasks = DaemonTasks.table(log, Executors.newCachedThreadPool());
        server = new MuxServer(mux, tasks, new UpdatesService(log),
                new AdminCalls(mux, tasks, log, PREFIX, "test", "dom0-uuid"), Executors.newFixedThreadPool(4), PREFIX);
        client = StorageClient.of(server::handle);
    }

    @AfterEach
    void tearDown() {
        scheduler.shutdownNow();
    }

    JsonNode ext(String method, String params) throws Exception {
        String reply = Soon.get(server.handle("{\"method\":\"" + method + "\",\"params\":[" + params
                + "],\"id\":7}"));
        return Json.parse(reply);
    }

    void register(String sr, String type) throws Exception {
        JsonNode r = ext("Registry.register", "{\"dbg\":\"t\",\"sr\":\"" + sr + "\",\"sr_type\":\"" + type + "\"}");
        assertTrue(r.get("error").isNull(), r.toString());
    }

    static StorageError error(Runnable call) {
        return assertThrows(StorageException.class, call::run).error();
    }

    @Test
    void unregisteredSrIsNoStoragePluginForSrThenRoutesOnlyToItsPluginAfterRegistration() throws Exception {
        assertEquals(new StorageError.NoStoragePluginForSr("s1"), error(() -> client.vdi().stat("t", "s1", "v")));
        assertEquals(new StorageError.NoStoragePluginForSr("s1"),
                error(() -> client.vdi().attach3("t", "dp", "s1", "v", "vm", true)));
        assertEquals(new StorageError.NoStoragePluginForSr("s1"),
                error(() -> client.policy().getBackendVm("t", "vm", "s1", "v")));

        register("s1", "p1");
        VdiInfo made = client.vdi().create("t", "s1", VdiInfo.defaults("", "disk"));
        assertEquals("p1-disk", made.vdi());
        assertEquals(List.of("Query.query", "VDI.create s1"), p1.calls);
        assertTrue(p2.calls.isEmpty());
        assertEquals("dom0-uuid", client.policy().getBackendVm("t", "vm", "s1", "v"));

        ext("Registry.unregister", "{\"dbg\":\"t\",\"sr\":\"s1\"}");
        assertEquals(new StorageError.NoStoragePluginForSr("s1"), error(() -> client.vdi().stat("t", "s1", "v")));
    }

    @Test
    void srListIsTheSortedUnionIgnoringAFailingPlugin() throws Exception {
        register("s1", "p1");
        register("s2", "p2");
        p1.attached.addAll(List.of("x", "s1"));
        p2.on("SR.list", a -> {
            throw new StorageException(new StorageError.BackendError("BROKEN", List.of()));
        });
        assertEquals(List.of("s1", "x"), client.sr().list("t"));
    }

    @Test
    void queryIsTheMuxRecordAndDiagnosticsFansOutOrFails() throws Exception {
        assertEquals("mux", client.query().query("t").driver());
        assertEquals("SMAPIv2", client.query().query("t").smapiVersion().name());
        register("s1", "p1");
        register("s2", "p2");
        String text = client.query().diagnostics("t");
        assertTrue(text.contains("For SR: s1\nSuccess: p1 is fine"), text);
        assertTrue(text.contains("For SR: s2\nSuccess: p2 is fine"), text);
        p2.on("Query.diagnostics", a -> {
            throw new StorageException(new StorageError.BackendError("DIAG", List.of("x")));
        });
        assertEquals(new StorageError.BackendError("DIAG", List.of("x")), error(() -> client.query().diagnostics("t")));
    }

    @Test
    void dpInfoRoutesDestroyAndDeactivateWithoutTheCallersSr() throws Exception {
        register("s1", "p1");
        client.vdi().attach3("t", "dp1", "s1", "v", "vm7", false);
        client.dp().destroy("t", "dp1", false);
        assertTrue(p1.calls.contains("DP.destroy2 dp1 s1 v vm7 ro"), p1.calls.toString());
        int before = p1.calls.size();
        client.dp().destroy("t", "dp1", false);
        client.vdi().deactivate("t", "unknown-dp", "s1", "v", "vm");
        assertEquals(before, p1.calls.size(), "no backend call for unknown datapaths");
    }

    @Test
    void deactivateUsesTheRecordedSrVdiAndVm() throws Exception {
        register("s1", "p1");
        register("s2", "p2");
        client.vdi().attach3("t", "dp1", "s1", "v", "vm7", true);
        client.vdi().deactivate("t", "dp1", "s2", "other", "vm0");
        assertTrue(p1.calls.contains("VDI.deactivate dp1 s1 v vm7"), p1.calls.toString());
        assertTrue(p2.callsOf("VDI.deactivate").isEmpty());
    }

    @Test
    void activate3SendsActivateReadonlyOnlyForReadOnlyAttachesOfCapablePlugins() throws Exception {
        register("s1", "p1"); // VDI_ACTIVATE_READONLY
        register("s2", "p2"); // no features
        client.vdi().attach3("t", "a", "s1", "v", "vm", false);
        client.vdi().activate3("t", "a", "s1", "v", "vm");
        client.vdi().attach3("t", "b", "s1", "w", "vm", true);
        client.vdi().activate3("t", "b", "s1", "w", "vm");
        client.vdi().attach3("t", "c", "s2", "v", "vm", false);
        client.vdi().activate3("t", "c", "s2", "v", "vm");
        assertEquals(List.of("VDI.activate_readonly a s1 v vm"), p1.callsOf("VDI.activate_readonly"));
        assertEquals(List.of("VDI.activate3 b s1 w vm"), p1.callsOf("VDI.activate3"));
        assertEquals(List.of("VDI.activate3 c s2 v vm"), p2.callsOf("VDI.activate3"));
        StorageError e = error(() -> client.vdi().activate3("t", "never", "s1", "v", "vm"));
        assertInstanceOf(StorageError.InternalError.class, e);
        assertTrue(((StorageError.InternalError) e).message().contains("DP not found"));
    }

    @Test
    void detachForgetsTheDatapathOnlyWhenTheBackendSucceeds() throws Exception {
        register("s1", "p1");
        client.vdi().attach3("t", "dp1", "s1", "v", "vm", true);
        p1.on("VDI.detach", a -> {
            throw new StorageException(new StorageError.BackendError("BUSY", List.of()));
        });
        error(() -> client.vdi().detach("t", "dp1", "s1", "v", "vm"));
        assertTrue(mux.datapaths().get("dp1").isPresent());
        p1.on("VDI.detach", a -> null);
        client.vdi().detach("t", "dp1", "s1", "v", "vm");
        assertTrue(mux.datapaths().get("dp1").isEmpty());
    }

    @Test
    void getByNameWithAndWithoutSr() throws Exception {
        register("s1", "p1");
        register("s2", "p2");
        client.vdi().create("t", "s2", VdiInfo.defaults("", "disk"));
        SrVdi found = client.getByName().getByName("t", "disk");
        assertEquals("s2", found.sr());
        assertEquals("p2-disk", found.vdi().vdi());
        p1.calls.clear();
        assertEquals(new StorageError.VdiDoesNotExist("disk"), error(() -> client.getByName().getByName("t", "s1/disk")));
        assertEquals(List.of("VDI.get_by_name s1 disk"), p1.calls);
        assertEquals(new StorageError.VdiDoesNotExist(""), error(() -> client.getByName().getByName("t", "")));
        assertEquals(new StorageError.VdiDoesNotExist("/"), error(() -> client.getByName().getByName("t", "/")));
    }

    @Test
    void snapshotActivatedOnAnotherHostBecomesRedirectToThatHostsAddressAsUpstreamsMux() throws Exception {
        register("s1", "p1");
        p1.on("VDI.snapshot", a -> {
            throw new StorageException(new StorageError.ActivatedOnAnotherHost(((VdiInfo) a[2]).vdi()));
        });
        p1.on("VDI.clone", a -> {
            throw new StorageException(new StorageError.ActivatedOnAnotherHost("h2"));
        });
        mux.setHostAddresses(uuid -> uuid.equals("h2") ? java.util.Optional.of("10.0.0.2")
                : java.util.Optional.empty());
        StorageError redirect = new StorageError.Redirect(java.util.Optional.of("10.0.0.2"));
        // forwarded (the request text as it came) and typed paths alike
        assertEquals(redirect, error(() -> client.vdi().snapshot("t", "s1", VdiInfo.defaults("h2", "d"))));
        assertEquals(redirect, error(() -> mux.snapshot("t", "s1", VdiInfo.defaults("h2", "d"))));
        // a host nobody knows: the backend's error as it was
        assertEquals(new StorageError.ActivatedOnAnotherHost("h9"),
                error(() -> client.vdi().snapshot("t", "s1", VdiInfo.defaults("h9", "d"))));
        // only VDI.snapshot is redirected, as upstream
        assertEquals(new StorageError.ActivatedOnAnotherHost("h2"),
                error(() -> client.vdi().clone("t", "s1", VdiInfo.defaults("v", "d"))));
        // any other answer passes unchanged
        p1.on("VDI.snapshot", a -> VdiInfo.defaults("snap", "d"));
        assertEquals("snap", client.vdi().snapshot("t", "s1", VdiInfo.defaults("v", "d")).vdi());
    }

    @Test
    void getByNameWithNoRegisteredSrIsVdiDoesNotExist() {
        assertEquals(new StorageError.VdiDoesNotExist("x"), error(() -> client.getByName().getByName("t", "x")));
    }

    @Test
    void legacyAttachTurnsTheBackendIntoAttachInfo() throws Exception {
        register("s1", "p1");
        @SuppressWarnings("deprecation")
        AttachInfo info = client.vdi().attach("t", "dp", "s1", "v", true);
        assertEquals("/p1/v", info.params());
        assertTrue(info.oDirect());
        assertTrue(p1.calls.contains("VDI.attach3 dp s1 v 0 rw"), p1.calls.toString());
    }

    @Test
    void aBackendThatDisappearedFailsFastWithNoStoragePluginForSr() throws Exception {
        register("s1", "p1");
        link.queues.remove(PREFIX + ".p1");
        assertEquals(new StorageError.NoStoragePluginForSr("s1"), error(() -> client.sr().stat("t", "s1")));
        assertEquals(new StorageError.NoStoragePluginForSr("s1"),
                error(() -> client.vdi().attach3("t", "d", "s1", "v", "vm", true)));
    }

    @Test
    void aBackendThatNeverRepliesEndsWithATimeoutError() throws Exception {
        start(Duration.ofMillis(200));
        register("s1", "p1");
        link.queues.remove(PREFIX + ".p1");
        link.silent.put(PREFIX + ".p1", true);
        StorageError e = error(() -> client.sr().stat("t", "s1"));
        assertInstanceOf(StorageError.InternalError.class, e);
        assertTrue(((StorageError.InternalError) e).message().startsWith("Timeout:"), e.toString());
    }

    /**
     * Issue 13.1: the mux queue's handler runs on the switch client's event loop, so a call for an SR whose
     * backend must be looked up again may not wait there for the queue listing. Before the fix, handle()
     * waited up to 3 s for the listing (and, with the guard, failed with "blocking call on event-loop thread").
     */
    @Test
    void aCallWaitingForTheQueueListingNeverBlocksTheReceivingThread() throws Exception {
        register("s1", "p1");
        link.queues.remove(PREFIX + ".p1");
        CompletableFuture<Void> listed = new CompletableFuture<>();
        link.listingGate = listed; // the switch has not answered the queue listing yet
        ExecutorService loop = Executors.newSingleThreadExecutor(
                EventLoopGuard.marking(Executors.defaultThreadFactory()));
        try {
            CompletableFuture<String> stat = Soon.get(CompletableFuture.supplyAsync(() -> server.handle(
                    "{\"method\":\"SR.stat\",\"params\":[{\"dbg\":\"t\",\"sr\":\"s1\"}],\"id\":3}"), loop));
            assertFalse(stat.isDone(), "the reply waits for the listing; the thread does not");
            CompletableFuture<String> query = Soon.get(CompletableFuture.supplyAsync(() -> server.handle(
                    "{\"method\":\"Query.query\",\"params\":[{\"dbg\":\"t\"}],\"id\":4}"), loop));
            assertTrue(query.isDone() && query.join().contains("\"driver\":\"mux\""), "answered inline meanwhile");
            listed.complete(null);
            assertTrue(Soon.get(stat).contains("No_storage_plugin_for_sr"), stat.join());
        } finally {
            loop.shutdownNow();
        }
    }

    /**
     * Issue 13.2: a fan-out skips a backend whose queue is gone at once and waits for a live but silent one
     * only the fan-out timeout; both are named in diagnostics. Before the fix, diagnostics failed with the
     * dead backend's No_storage_plugin_for_sr (and with the silent one, waited for the call timeout).
     */
    @Test
    void fanOutSkipsADeadBackendAndBoundsASilentOne() throws Exception {
        start(Soon.timeout(), Duration.ofMillis(300));
        RecordingBackend p3 = new RecordingBackend("p3");
        link.queues.put(PREFIX + ".p3", p3.dispatcher());
        register("s1", "p1");
        register("s2", "p2");
        register("s3", "p3");
        p1.attached.add("s1");
        client.vdi().create("t", "s1", VdiInfo.defaults("", "disk"));
        link.queues.remove(PREFIX + ".p2");
        link.queues.remove(PREFIX + ".p3");
        link.silent.put(PREFIX + ".p3", true);

        assertEquals(List.of("s1"), client.sr().list("t"));
        String text = client.query().diagnostics("t");
        assertTrue(text.contains("For SR: s1\nSuccess: p1 is fine"), text);
        assertTrue(text.contains("For SR: s2\nSkipped: no live backend queue " + PREFIX + ".p2"), text);
        assertTrue(text.contains("For SR: s3\nSkipped: the backend on " + PREFIX + ".p3 did not answer"), text);
        assertEquals("s1", client.getByName().getByName("t", "disk").sr());
    }

    /**
     * Issue 13.6: SR.detach with datapaths still attached left them attached in the backend (a SMAPIv3 plugin
     * has no wrapper to tear them down), SR.destroy deleted the volumes under live datapaths, and teardown
     * calls after the SR was gone failed for ever. Before the fix, SR.detach reached the backend directly and
     * SR.destroy succeeded.
     */
    @Test
    void srDetachTearsDatapathsDownFirstAndSrDestroyIsRefusedWhileAnyIsAttached() throws Exception {
        register("s1", "p1");
        client.sr().attach("t", "s1", Map.of());
        client.vdi().attach3("t", "dpA", "s1", "a", "vm1", true);
        client.vdi().activate3("t", "dpA", "s1", "a", "vm1");
        client.vdi().attach3("t", "dpB", "s1", "b", "vm2", false);

        StorageError refused = error(() -> client.sr().destroy("t", "s1"));
        assertInstanceOf(StorageError.BackendError.class, refused);
        assertEquals("SR_DEVICE_IN_USE", ((StorageError.BackendError) refused).code());
        assertFalse(p1.calls.contains("SR.destroy s1"), "the backend never saw the destroy");

        p1.calls.clear();
        client.sr().detach("t", "s1");
        assertEquals(List.of("DP.destroy2 dpA s1 a vm1 ro", "DP.destroy2 dpB s1 b vm2 ro", "SR.detach s1"), p1.calls);
        assertTrue(mux.datapaths().all().isEmpty(), "DP_info is clean");
    }

    @Test
    void teardownAfterTheSrIsGoneSucceedsAndCleansDpInfo() throws Exception {
        register("s1", "p1");
        client.vdi().attach3("t", "dpA", "s1", "a", "vm1", true);
        client.vdi().attach3("t", "dpB", "s1", "b", "vm2", true);
        for (String m : List.of("VDI.deactivate", "VDI.detach", "DP.destroy2")) {
            p1.on(m, a -> {
                throw new StorageException(new StorageError.SrNotAttached("s1"));
            });
        }
        client.vdi().deactivate("t", "dpA", "s1", "a", "vm1");
        client.vdi().detach("t", "dpA", "s1", "a", "vm1");
        client.dp().destroy("t", "dpB", false);
        assertTrue(mux.datapaths().all().isEmpty(), "DP_info is clean");
        // any other failure still fails the teardown and keeps the record
        client.vdi().attach3("t", "dpC", "s1", "c", "vm3", true);
        p1.on("DP.destroy2", a -> {
            throw new StorageException(new StorageError.BackendError("BUSY", List.of()));
        });
        error(() -> client.dp().destroy("t", "dpC", false));
        assertTrue(mux.datapaths().get("dpC").isPresent());
    }

    @Test
    void unimplementedAtTheMuxAsUpstream() {
        assertEquals(new StorageError.Unimplemented("SR.probe"),
                error(() -> client.sr().probe("t", "q", Map.of(), Map.of())));
        assertEquals(new StorageError.Unimplemented("DATA.copy"),
                error(() -> client.data().copy("t", "s", "v", "vm", "", "d", false)));
        assertTrue(client.dataMirror().list("t").isEmpty());
        assertEquals(new StorageError.DoesNotExist("mirror", "m"), error(() -> client.dataMirror().stat("t", "m")));
        assertEquals("dp9", client.dp().create("t", "dp9"));
    }

    /**
     * Issue 14.4: the four DATA.MIRROR calls of a xen-api v25.11.0 xapi (its requests byte for byte, members in
     * its client's reverse declaration order) are answered as its mux answered them: import_activate and
     * get_nbd_server forwarded under their own name to the SR's backend, start and stop by the mux itself.
     */
    @Test
    void v25MirrorCallsAreRoutedAsV25sMuxDid() throws Exception {
        register("s1", "p1");
        p1.on("DATA.MIRROR.import_activate", a -> "/run/import-" + a[4]);
        p1.on("DATA.MIRROR.get_nbd_server", a -> "/run/nbd-" + a[4]);
        for (String m : List.of("import_activate", "get_nbd_server")) {
            JsonNode r = Json.parse(Soon.get(server.handle("{\"method\":\"DATA.MIRROR." + m + "\",\"params\":[{"
                    + "\"vm\":\"vm1\",\"vdi\":\"v1\",\"sr\":\"s1\",\"dp\":\"dp1\",\"dbg\":\"t\"}],\"id\":12}")));
            assertEquals(Json.parse("{\"result\":\"/run/" + (m.equals("import_activate") ? "import" : "nbd")
                    + "-vm1\",\"error\":null,\"id\":12}"), r, m);
        }
        assertEquals(List.of("DATA.MIRROR.import_activate dp1 s1 v1 vm1", "DATA.MIRROR.get_nbd_server dp1 s1 v1 vm1"),
                p1.calls.stream().filter(c -> c.startsWith("DATA")).toList());
        // an SR nobody registered: upstream's No_storage_plugin_for_sr, not UnknownMethod
        assertEquals(Json.parse("[\"No_storage_plugin_for_sr\",\"s9\"]"), Json.parse(Soon.get(server.handle(
                "{\"method\":\"DATA.MIRROR.import_activate\",\"params\":[{\"vm\":\"vm1\",\"vdi\":\"v1\","
                        + "\"sr\":\"s9\",\"dp\":\"dp1\",\"dbg\":\"t\"}],\"id\":13}"))).get("error"));
        // start is storage motion (not built): a storage error naming it; stop finds no mirror, as upstream's
        JsonNode start = Json.parse(Soon.get(server.handle("{\"method\":\"DATA.MIRROR.start\",\"params\":[{"
                + "\"verify_dest\":false,\"dest\":\"s2\",\"url\":\"http://h/services/SM\",\"copy_vm\":\"c\","
                + "\"mirror_vm\":\"m\",\"dp\":\"dp1\",\"vdi\":\"v1\",\"sr\":\"s1\",\"dbg\":\"t\"}],\"id\":14}")));
        assertEquals(Json.parse("[\"Unimplemented\",\"DATA.MIRROR.start\"]"), start.get("error"));
        JsonNode stop = Json.parse(Soon.get(server.handle("{\"method\":\"DATA.MIRROR.stop\",\"params\":[{"
                + "\"id\":\"s1/v1\",\"dbg\":\"t\"}],\"id\":15}")));
        assertEquals(Json.parse("[\"Does_not_exist\",[\"mirror\",\"s1/v1\"]]"), stop.get("error"));
        assertEquals(List.of(), p1.calls.stream().filter(c -> c.contains("start") || c.contains("stop")).toList());
    }

    // ---- extension calls

    @Test
    void registryExtensionCallsHaveTheDocumentedShapes() throws Exception {
        register("s1", "p1");
        register("s1", "p1"); // idempotent
        register("s2", "p2");
        JsonNode list = ext("Registry.list", "{\"dbg\":\"t\"}").get("result");
        assertEquals(Json.parse("{\"s1\":{\"sr_type\":\"p1\",\"queue\":\"" + PREFIX + ".p1\"},"
                + "\"s2\":{\"sr_type\":\"p2\",\"queue\":\"" + PREFIX + ".p2\"}}"), list);
        assertEquals(Json.parse("[\"p1\",\"p2\"]"), ext("Registry.types", "{\"dbg\":\"t\"}").get("result"));
        JsonNode diag = ext("Mux.diagnostics", "{\"dbg\":\"t\"}").get("result");
        assertEquals(PREFIX, diag.get("queue_prefix").asText());
        assertEquals(list, diag.get("srs"));
        assertTrue(diag.get("tasks").isArray());
        assertTrue(diag.get("datapaths").isObject());
        assertTrue(diag.at("/backends/p1/alive").asBoolean());
        assertEquals(PREFIX + ".p2", diag.at("/backends/p2/queue").asText());
        assertEquals(7, ext("Registry.list", "{\"dbg\":\"t\"}").get("id").asInt());
    }

    @Test
    void registerRejectsUnknownOrInvalidTypesAndBadParameters() throws Exception {
        for (String type : List.of("nosuch", "../p1", "p1/../x", "", ".hidden")) {
            JsonNode r = ext("Registry.register", "{\"dbg\":\"t\",\"sr\":\"s9\",\"sr_type\":\"" + type + "\"}");
            // xapi's check_queue_exists, before anything is sent
            assertEquals(Json.parse("[\"Backend_error\",[\"SR_UNKNOWN_DRIVER\",[\"" + type + "\"]]]"), r.get("error"),
                    type);
        }
        assertTrue(mux.registry().srs().isEmpty());
        assertTrue(p1.calls.isEmpty() && p2.calls.isEmpty(), "no backend was asked: " + p1.calls + p2.calls);
        JsonNode missing = ext("Registry.register", "{\"dbg\":\"t\",\"sr_type\":\"p1\"}").get("error");
        assertEquals("Internal_error", missing.get(0).asText());
        assertTrue(missing.get(1).asText().contains("Expecting named argument 'sr'"), missing.toString());
        JsonNode typed = ext("Registry.register", "{\"dbg\":\"t\",\"sr\":5,\"sr_type\":\"p1\"}").get("error");
        assertTrue(typed.get(1).asText().contains("Expected string for 'sr'"), typed.toString());
        JsonNode notDict = ext("Registry.unregister", "\"s1\"").get("error");
        assertTrue(notDict.get(1).asText().contains("Expecting dict"), notDict.toString());
        JsonNode empty = ext("Registry.unregister", "{\"dbg\":\"t\",\"sr\":\"\"}").get("error");
        assertTrue(empty.get(1).asText().contains("non-empty"), empty.toString());
    }

    @Test
    void aFailedRegistrationResetsTheSrOnItsBackendAndAnswersTheOriginalError() throws Exception {
        StorageError broken = new StorageError.BackendError("SR_BACKEND_FAILURE_47", List.of("", "gone", ""));
        p2.on("Query.query", a -> {
            throw new StorageException(broken);
        });
        p2.on("SR.reset", a -> null);
        JsonNode r = ext("Registry.register", "{\"dbg\":\"t\",\"sr\":\"s2\",\"sr_type\":\"p2\"}");
        assertEquals(Json.parse("[\"Backend_error\",[\"SR_BACKEND_FAILURE_47\",[\"\",\"gone\",\"\"]]]"),
                r.get("error"));
        assertEquals(List.of("Query.query", "SR.reset s2"), p2.calls);
        assertFalse(mux.registry().lookup("s2").isPresent());

        // a reset that fails too (p1 does not implement it) does not hide why the registration failed
        p1.on("Query.query", a -> {
            throw new StorageException(broken);
        });
        JsonNode again = ext("Registry.register", "{\"dbg\":\"t\",\"sr\":\"s1\",\"sr_type\":\"p1\"}");
        assertEquals(r.get("error"), again.get("error"));
        assertEquals(List.of("Query.query", "SR.reset s1"), p1.calls);
        assertTrue(mux.registry().srs().isEmpty());
    }

    @Test
    void aSuccessfulSrDestroyUnregistersTheSrAndAFailedOneKeepsIt() throws Exception {
        register("s1", "p1");
        p1.on("SR.destroy", a -> {
            throw new StorageException(new StorageError.BackendError("SR_NOT_EMPTY", List.of()));
        });
        error(() -> client.sr().destroy("t", "s1"));
        assertTrue(mux.registry().lookup("s1").isPresent(), "a failed destroy leaves the SR bound");

        p1.on("SR.destroy", a -> null);
        client.sr().destroy("t", "s1");
        assertFalse(mux.registry().lookup("s1").isPresent());
        assertFalse(SrRegistry.load(dir.resolve("registry.json")).lookup("s1").isPresent(), "persisted");
        assertEquals(new StorageError.NoStoragePluginForSr("s1"), error(() -> client.sr().stat("t", "s1")));
    }

    @Test
    void registrationSurvivesAReload() throws Exception {
        register("s1", "p1");
        SrRegistry again = SrRegistry.load(dir.resolve("registry.json"));
        assertEquals(PREFIX + ".p1", again.lookup("s1").orElseThrow().queue());
        assertTrue(again.lookup("s1").orElseThrow().hasFeature("VDI_ACTIVATE_READONLY"));
        assertFalse(again.lookup("s2").isPresent());
    }
}
