package org.xenstorage.smapiv1;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.rpc.StorageClient;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.Implementation;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.smapiv1.catalogue.Catalogue;
import org.xenstorage.smapiv1.catalogue.Inventory;
import org.xenstorage.smapiv1.catalogue.XenApi;
import org.xenstorage.smapiv1.catalogue.XenApiFailure;
import org.xenstorage.smapiv1.translation.DriverSessions;
import org.xenstorage.smapiv1.translation.Smapiv1Translation;
import org.xenstorage.testing.Soon;

/**
 * The upstream details real SM drivers rely on (issue 14, item 3), shown with {@code RecordSR}: a test
 * driver that records each request and what XenAPI said at that moment, then acts as the shipped
 * {@code LocalfileSR}. Two copies serve two types: {@code record} (every capability) and {@code plain}
 * (no VDI_ACTIVATE/VDI_DEACTIVATE).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class UpstreamDetailsTest {
    private static final long MIB = 1L << 20;
    @TempDir
    static Path tmp;
    Path smDir;
    Path log;
    Smapiv1Backend backend;
    Catalogue catalogue;
    StorageService record;
    StorageService plain;
    final String srA = UUID.randomUUID().toString();
    final String srB = UUID.randomUUID().toString();
    Path dirA;
    Path dirB;

    @BeforeAll
    void start() throws Exception {
        smDir = tmp.resolve("sm");
        TestDrivers.installLocalfile(smDir);
        TestDrivers.installResource(smDir, "RecordSR", "RecordSR");
        TestDrivers.installResource(smDir, "RecordSR", "PlainSR");
        log = tmp.resolve("calls.jsonl");
        backend = start(tmp.resolve("state"), Smapiv1Backend.Options.defaults());
        catalogue = backend.catalogue().orElseThrow();
        record = StorageClient.of(text -> backend.dispatch("record", text));
        plain = StorageClient.of(text -> backend.dispatch("plain", text));
        dirA = tmp.resolve("a");
        dirB = tmp.resolve("b");
        record.sr().create("t", srA, "a", "", Map.of("location", dirA.toString()), 0);
        record.sr().attach("t", srA, Map.of("location", dirA.toString()));
        plain.sr().create("t", srB, "b", "", Map.of("location", dirB.toString()), 0);
        plain.sr().attach("t", srB, Map.of("location", dirB.toString()));
    }

    private Smapiv1Backend start(Path state, Smapiv1Backend.Options options) {
        return Smapiv1Backend.start(TestDrivers.config(smDir, state, Soon.timeout()), null,
                options.withDriverEnvironment(Map.of("RECORD_LOG", log.toString(),
                        "RECORD_WITHOUT_PlainSR", "VDI_ACTIVATE,VDI_DEACTIVATE", "RECORD_LOCALHOST", "1")));
    }

    @AfterAll
    void stop() {
        backend.close();
    }

    /** Every recorded call so far, oldest first. */
    private List<JsonNode> calls() throws Exception {
        List<JsonNode> out = new ArrayList<>();
        for (String line : Files.readAllLines(log, StandardCharsets.UTF_8)) {
            out.add(Json.MAPPER.readTree(line));
        }
        return out;
    }

    private List<JsonNode> callsSince(int mark, String command) throws Exception {
        List<JsonNode> all = calls();
        return all.subList(mark, all.size()).stream().filter(c -> c.get("command").asText().equals(command))
                .toList();
    }

    private VdiInfo newVdi(StorageService s, String sr, String name) {
        return s.vdi().create("t", sr, VdiInfo.defaults("", name).withSizes(MIB, 0));
    }

    private Map<String, Object> ledger(Path dir, String vdi) throws Exception {
        JsonNode all = Json.MAPPER.readTree(dir.resolve(".attach-ledger.json").toFile());
        return Json.MAPPER.convertValue(all.get(vdi), Map.class);
    }

    @Test
    void snapshotAndCloneSetTheRecordBeforeVdiUpdate() throws Exception {
        VdiInfo disk = newVdi(record, srA, "disk");
        record.vdi().setContentId("t", srA, disk.vdi(), "content-1");
        for (boolean snapshot : new boolean[] {true, false}) {
            int mark = calls().size();
            VdiInfo req = disk.withNames("copy-" + snapshot, "made by the test");
            VdiInfo made = snapshot ? record.vdi().snapshot("t", srA, req) : record.vdi().clone("t", srA, req);
            List<JsonNode> all = calls().subList(mark, calls().size());
            int copyAt = -1;
            int updateAt = -1;
            for (int i = 0; i < all.size(); i++) {
                String cmd = all.get(i).get("command").asText();
                if (cmd.equals(snapshot ? "vdi_snapshot" : "vdi_clone")) {
                    copyAt = i;
                }
                if (cmd.equals("vdi_update") && all.get(i).at("/request/vdi_location").asText().equals(made.vdi())) {
                    updateAt = i;
                }
            }
            assertTrue(copyAt >= 0 && updateAt > copyAt, "vdi_update of the copy after the copy: " + all);
            // what the driver could read (and LVHD copies to disk) when vdi_update ran
            JsonNode seen = all.get(updateAt).get("vdi");
            assertEquals("copy-" + snapshot, seen.get("name_label").asText());
            assertEquals("made by the test", seen.get("name_description").asText());
            assertEquals("content-1", seen.at("/other_config/content_id").asText());
            assertEquals(snapshot, seen.get("is_a_snapshot").asBoolean());
            assertNotEquals(VdiInfo.EPOCH, seen.get("snapshot_time").asText());
        }
    }

    @Test
    void contentIdIsResetByActivateAndDeactivateWithoutThoseCapabilities() throws Exception {
        assertFalse(backend.driverFor("plain").info().has("VDI_ACTIVATE"));
        VdiInfo disk = newVdi(plain, srB, "plain-disk");
        plain.vdi().setContentId("t", srB, disk.vdi(), "content-0");
        int mark = calls().size();
        plain.vdi().attach3("t", "dp-c", srB, disk.vdi(), "vm", true);
        plain.vdi().activate3("t", "dp-c", srB, disk.vdi(), "vm");
        // no content_id: vdi_info falls back to the location, as upstream's vdi_info_of_vdi_rec
        assertEquals(disk.vdi(), plain.vdi().stat("t", srB, disk.vdi()).contentId());
        plain.vdi().deactivate("t", "dp-c", srB, disk.vdi(), "vm");
        String fresh = plain.vdi().stat("t", srB, disk.vdi()).contentId();
        assertNotEquals(disk.vdi(), fresh);
        assertNotEquals("content-0", fresh);
        plain.vdi().detach("t", "dp-c", srB, disk.vdi(), "vm");
        assertEquals(List.of(), callsSince(mark, "vdi_activate"));
        assertEquals(List.of(), callsSince(mark, "vdi_deactivate"));
    }

    @Test
    void createPassesVdiUuidForTheMetadataVdiOnly() throws Exception {
        // golden: Python's uuid.uuid5(UUID("e93e0639-2bdb-4a59-8b46-352b3f408c19"), name), as Uuidm.v5
        assertEquals("a4c3ecc7-ed52-5da5-b12b-99a7722d5033",
                Smapiv1Translation.metadataVdiUuid("2b3a1f9e-6c1d-4f0e-9a57-0d3c9b6f8e21"));
        assertEquals("d593669a-b2d3-51c3-82f1-d566e164246d", Smapiv1Translation.metadataVdiUuid("abc"));

        String hashed = Smapiv1Translation.metadataVdiUuid(srA);
        int mark = calls().size();
        VdiInfo metadata = record.vdi().create("t", srA, VdiInfo.defaults("", "metadata")
                .withUuid(java.util.Optional.of(hashed)).withTy("metadata").withSizes(MIB, 0));
        assertEquals(hashed, metadata.uuid().orElseThrow());
        assertEquals(hashed, callsSince(mark, "vdi_create").get(0).at("/request/vdi_uuid").asText());

        mark = calls().size();
        String other = UUID.randomUUID().toString();
        VdiInfo ordinary = record.vdi().create("t", srA, VdiInfo.defaults("", "ordinary")
                .withUuid(java.util.Optional.of(other)).withSizes(MIB, 0));
        assertNotEquals(other, ordinary.uuid().orElseThrow());
        assertTrue(callsSince(mark, "vdi_create").get(0).get("request").path("vdi_uuid").isMissingNode());
    }

    @Test
    void everyDriverCallRunsUnderARealTaskThatIsGoneAfterwards() throws Exception {
        int mark = calls().size();
        VdiInfo disk = newVdi(record, srA, "tasked");
        record.vdi().stat("t", srA, disk.vdi());
        record.sr().stat("t", srA);
        List<JsonNode> all = calls().subList(mark, calls().size());
        assertTrue(all.size() >= 3, all.toString());
        for (JsonNode c : all) {
            JsonNode task = c.get("task");
            assertTrue(task != null && task.get("error") == null, "subtask_of resolves: " + c);
            assertEquals(c.get("command").asText(), task.get("name_label").asText());
            assertEquals("pending", task.get("status").asText());
        }
        String session = catalogue.newInternalSession();
        try {
            assertEquals(List.of(), catalogue.call("task.get_all", List.of(session)));
        } finally {
            catalogue.destroySession(session);
        }
    }

    @Test
    void vdiLookupsAskForOneRecordNotTheWholeSr() throws Exception {
        String srRef = String.valueOf(catalogue.call("SR.get_by_uuid", List.of(internal(), srA)));
        String sm = catalogue.newDriverSession(srRef);
        List<String> locations = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
            String loc = "bulk-" + i;
            locations.add(loc);
            catalogue.call("VDI.db_introduce", List.of(sm, "", loc, "", srRef, "user", false, false, Map.of(), loc,
                    Map.of(), Map.of(), true, "0", "0", "", false, "19700101T00:00:00Z", "", false));
        }
        catalogue.destroySession(sm);
        List<Integer> returned = new CopyOnWriteArrayList<>();
        XenApi counting = (method, params) -> {
            Object r = catalogue.call(method, params);
            if (method.startsWith("VDI.get_all_records")) {
                returned.add(((Map<?, ?>) r).size());
            }
            return r;
        };
        DriverSessions sessions = new DriverSessions() {
            @Override
            public String open(String ref) {
                return catalogue.newDriverSession(ref);
            }

            @Override
            public void close(String session) {
                catalogue.destroySession(session);
            }
        };
        // no driver exec below: get_by_name and set_content_id are record lookups only
        Smapiv1Translation t = new Smapiv1Translation(backend.driverFor("record"), null, counting, internal(),
                sessions, java.util.Optional.of(catalogue), catalogue.hostRef(), catalogue.hostUuid());
        assertEquals("bulk-150", t.getByName("t", srA, "bulk-150").vdi());
        t.setContentId("t", srA, "bulk-299", "c");
        assertFalse(returned.isEmpty());
        assertTrue(returned.stream().allMatch(n -> n <= 1), "records moved per lookup: " + returned);
    }

    private String internalSession;

    private synchronized String internal() {
        if (internalSession == null) {
            internalSession = catalogue.newInternalSession();
        }
        return internalSession;
    }

    @Test
    void dpDestroy2TearsDownHoldersOnEverySmapiv1Type() throws Exception {
        VdiInfo a = newVdi(record, srA, "on-a");
        VdiInfo b = newVdi(plain, srB, "on-b");
        record.vdi().attach3("t", "vbd-shared", srA, a.vdi(), "vm1", true);
        record.vdi().activate3("t", "vbd-shared", srA, a.vdi(), "vm1");
        plain.vdi().attach3("t", "vbd-shared", srB, b.vdi(), "vm1", true);
        assertEquals(true, ledger(dirB, b.vdi()).get("attached"));
        // the mux routes DP.destroy2 by the caller's sr: here SR a's type
        record.dp().destroy2("t", "vbd-shared", srA, a.vdi(), "vm1", false);
        assertEquals(false, ledger(dirA, a.vdi()).get("attached"));
        assertEquals(false, ledger(dirB, b.vdi()).get("attached"), "SR b's holder was torn down too");
        assertTrue(plain.dp().statVdi("t", srB, b.vdi()).dps().isEmpty());
    }

    @Test
    void preferNbdAttachOffersTheNbdExportFirst() {
        VdiInfo disk = newVdi(record, srA, "nbd");
        backend.translationFor("record").preferNbdAttach(true);
        try {
            Backend b = record.vdi().attach3("t", "dp-nbd", srA, disk.vdi(), "vm", false);
            List<Implementation> impls = b.implementations();
            assertEquals(2, impls.size(), impls.toString());
            assertInstanceOf(Implementation.XenDisk.class, impls.get(0));
            assertInstanceOf(Implementation.Nbd.class, impls.get(1));
            assertTrue(b.first(Implementation.BlockDevice.class).isEmpty());
        } finally {
            backend.translationFor("record").preferNbdAttach(false);
            record.dp().destroy2("t", "dp-nbd", srA, disk.vdi(), "vm", false);
        }
        Backend normal = record.vdi().attach3("t", "dp-blk", srA, disk.vdi(), "vm", false);
        assertTrue(normal.first(Implementation.BlockDevice.class).isPresent());
        record.dp().destroy2("t", "dp-blk", srA, disk.vdi(), "vm", false);
    }

    @Test
    void getUrlHandsOutOneReadOnlySessionAndClosesItOnShutdown() throws Exception {
        Path state = tmp.resolve("state-url");
        Smapiv1Backend other = start(state, Smapiv1Backend.Options.defaults());
        Catalogue c = other.catalogue().orElseThrow();
        StorageService s = StorageClient.of(text -> other.dispatch("record", text));
        String sr = UUID.randomUUID().toString();
        Path dir = tmp.resolve("url-sr");
        String session;
        try {
            s.sr().create("t", sr, "u", "", Map.of("location", dir.toString()), 0);
            s.sr().attach("t", sr, Map.of("location", dir.toString()));
            VdiInfo disk = newVdi(s, sr, "url");
            String url = s.vdi().getUrl("t", sr, disk.vdi());
            String[] parts = url.split("/");
            assertEquals(3, parts.length, url);
            session = parts[1];
            for (int i = 0; i < 3; i++) {
                assertEquals(url, s.vdi().getUrl("t", sr, disk.vdi()), "one session for every URL");
            }
            assertEquals(c.hostRef(), c.call("session.get_this_host", List.of(session, session)));
            String srRef = String.valueOf(c.call("SR.get_by_uuid", List.of(session, sr)));
            XenApiFailure denied = assertThrows(XenApiFailure.class,
                    () -> c.call("SR.set_physical_size", List.of(session, srRef, "1")));
            assertEquals("PERMISSION_DENIED", denied.description().get(0));
            s.sr().detach("t", sr);
        } finally {
            other.close();
        }
        XenApiFailure gone = assertThrows(XenApiFailure.class,
                () -> c.call("session.get_this_host", List.of(session, session)));
        assertEquals("SESSION_INVALID", gone.description().get(0));
    }

    @Test
    void driversFindTheirHostAsSmUtilDoes() throws Exception {
        int mark = calls().size();
        VdiInfo disk = newVdi(record, srA, "where-am-i");
        record.vdi().stat("t", srA, disk.vdi());
        List<JsonNode> seen = calls().subList(mark, calls().size());
        assertFalse(seen.isEmpty());
        for (JsonNode c : seen) {
            JsonNode l = c.get("localhost");
            assertEquals(catalogue.hostRef(), l.at("/via_dom0/0").asText(), l.toString());
            assertEquals(1, l.get("via_dom0").size());
            assertEquals(catalogue.hostRef(), l.get("via_installation_uuid").asText(), l.toString());
            assertEquals("localhost", l.get("host_name_label").asText());
            assertTrue(l.get("live").asBoolean(), l.toString());
            if (c.at("/request/vdi_ref").isTextual()) {
                assertEquals(0, l.get("vbds").size(), l.toString());
            }
        }
        Path inventory = backend.inventoryFile().orElseThrow();
        assertEquals(inventory.toString(), backend.driverEnvironment().get(Inventory.ENV));
        Map<String, String> keys = Inventory.parse(Files.readString(inventory));
        assertEquals(catalogue.hostUuid(), keys.get(Inventory.HOST_KEY));
        assertEquals(catalogue.controlDomainUuid(), keys.get(Inventory.DOM0_KEY));
    }

    @Test
    void anExistingInventoryNamesTheHostAndItsControlDomain() throws Exception {
        Path inv = tmp.resolve("etc-inventory");
        String host = UUID.randomUUID().toString();
        String dom0 = UUID.randomUUID().toString();
        Files.writeString(inv, "BUILD_NUMBER='1'\nINSTALLATION_UUID='" + host + "'\nCONTROL_DOMAIN_UUID='" + dom0
                + "'\n");
        Smapiv1Backend other = start(tmp.resolve("state-inv"), Smapiv1Backend.Options.defaults()
                .withInventoryFile(inv));
        try {
            Catalogue c = other.catalogue().orElseThrow();
            assertEquals(host, c.hostUuid());
            assertEquals(dom0, c.controlDomainUuid());
            assertTrue(Files.readString(inv).startsWith("BUILD_NUMBER='1'\n"), "left as it was");
        } finally {
            other.close();
        }
        // a file without the keys gets them, its other lines kept
        Path partial = tmp.resolve("partial-inventory");
        Files.writeString(partial, "BUILD_NUMBER='2'\n");
        Smapiv1Backend third = start(tmp.resolve("state-partial"), Smapiv1Backend.Options.defaults()
                .withInventoryFile(partial));
        try {
            Map<String, String> keys = Inventory.parse(Files.readString(partial));
            assertEquals("2", keys.get("BUILD_NUMBER"));
            assertEquals(third.catalogue().orElseThrow().hostUuid(), keys.get(Inventory.HOST_KEY));
        } finally {
            third.close();
        }
    }
}
