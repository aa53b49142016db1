package org.xenstorage.smapiv3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.smapiv3.state.HolderTable;
import org.xenstorage.testing.Soon;

/**
 * Issue 13.7 (the bridge's part): per-volume datapath holders on SMAPIv3 SRs, against the shipped example
 * plugins (simplefile volumes, the {@code file} datapath and its ledger). Before the bridge kept holders, every
 * v2 call went through to the datapath plugin: a second read-only attach was refused (Volume_in_use, the
 * plugin holds a volume for one domain), a stranger's teardown ran the plugin's deactivate/detach, and SR.detach
 * or SR.destroy went ahead under an attached volume. Each test here fails on that code.
 */
class DatapathHoldersTest {
    @TempDir
    Path tmp;
    PluginRoot root;
    Smapiv3Bridge bridge;
    V2 v2;
    String srPath;

    @BeforeEach
    void start() throws Exception {
        root = new PluginRoot(tmp);
        root.copyExamples();
        bridge = root.start();
        v2 = new V2(bridge, "simplefile");
        srPath = tmp.resolve("sr").toString();
        v2.ok("SR.create", "dbg", "t", "sr", "sr", "name_label", "n", "name_description", "d",
                "device_config", V2.map("path", srPath), "physical_size", 0L);
        v2.ok("SR.attach", "dbg", "t", "sr", "sr", "device_config", V2.map("path", srPath));
    }

    @AfterEach
    void stop() {
        if (bridge != null) {
            bridge.close();
        }
    }

    private String newVdi() {
        return v2.ok("VDI.create", "dbg", "t", "sr", "sr", "vdi_info", V2.json("{\"vdi\":\"x\","
                + "\"name_label\":\"disk\",\"ty\":\"user\",\"virtual_size\":1048576}")).get("vdi").asText();
    }

    /** The file datapath's ledger entry of the volume: attached/activated/domain and call counters. */
    private JsonNode ledger(String vdi) throws Exception {
        JsonNode all = Json.parse(Files.readString(Path.of(srPath, ".datapath-ledger.json")));
        return all.path(srPath + "/" + vdi + ".raw");
    }

    private List<String> datapathScripts() throws Exception {
        return root.newRequests().stream().map(PluginRoot.Request::script)
                .filter(s -> s.startsWith("datapath/")).toList();
    }

    @Test
    void readOnlyAttachesOfOneVolumeShareOneAttachmentUntilTheLastHolderLeaves() throws Exception {
        String vdi = newVdi();
        int n = 8;
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            List<CompletableFuture<JsonNode>> attaches = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                String dp = "ro-" + i;
                attaches.add(CompletableFuture.supplyAsync(() -> {
                    JsonNode backend = v2.ok("VDI.attach3", "dbg", "t", "dp", dp, "sr", "sr", "vdi", vdi, "vm", "0",
                            "read_write", false);
                    v2.ok("VDI.activate_readonly", "dbg", "t", "dp", dp, "sr", "sr", "vdi", vdi, "vm", "0");
                    return backend;
                }, pool));
            }
            for (CompletableFuture<JsonNode> a : attaches) {
                assertEquals(attaches.get(0).join(), Soon.get(a), "every holder gets the one attachment's backend");
            }
        } finally {
            pool.shutdown();
        }
        JsonNode e = ledger(vdi);
        assertEquals(1, e.get("attach").asInt(), "one plugin attach for " + n + " read-only holders: " + e);
        assertEquals(0, e.path("attach_refused").asInt(), e.toString());
        assertTrue(e.get("activated").asBoolean(), e.toString());
        root.newRequests();
        for (int i = 0; i < n - 1; i++) {
            v2.ok("DP.destroy2", "dbg", "t", "dp", "ro-" + i, "sr", "sr", "vdi", vdi, "vm", "0", "allow_leak", false);
        }
        assertEquals(List.of(), datapathScripts(), "holders leaving while one stays touch nothing");
        assertTrue(ledger(vdi).get("activated").asBoolean());
        v2.ok("DP.destroy2", "dbg", "t", "dp", "ro-" + (n - 1), "sr", "sr", "vdi", vdi, "vm", "0", "allow_leak", false);
        assertEquals(List.of("datapath/file/Datapath.deactivate", "datapath/file/Datapath.detach"), datapathScripts());
        assertFalse(ledger(vdi).get("attached").asBoolean(), ledger(vdi).toString());
        assertTrue(Json.parse(Files.readString(root.state.resolve(HolderTable.FILE))).get("volumes").isEmpty(),
                "nobody holds it: nothing kept");
    }

    @Test
    void aStrangersTeardownRunsNoPluginScriptAndAHolderSurvivesARestart() throws Exception {
        String vdi = newVdi();
        v2.ok("VDI.attach3", "dbg", "t", "dp", "owner", "sr", "sr", "vdi", vdi, "vm", "0", "read_write", true);
        v2.ok("VDI.activate3", "dbg", "t", "dp", "owner", "sr", "sr", "vdi", vdi, "vm", "0");
        bridge.close();
        bridge = root.start(); // holders are persisted: the restarted bridge still knows who holds the volume
        v2 = new V2(bridge, "simplefile");
        root.newRequests();
        v2.ok("VDI.deactivate", "dbg", "t", "dp", "stranger", "sr", "sr", "vdi", vdi, "vm", "0");
        v2.ok("VDI.detach", "dbg", "t", "dp", "stranger", "sr", "sr", "vdi", vdi, "vm", "0");
        v2.ok("DP.destroy2", "dbg", "t", "dp", "stranger", "sr", "sr", "vdi", vdi, "vm", "0", "allow_leak", false);
        assertEquals(List.of(), datapathScripts(), "a datapath that holds nothing reaches no plugin");
        assertEquals("u0_owner", ledger(vdi).get("domain").asText());
        assertTrue(ledger(vdi).get("activated").asBoolean());
        assertEquals(V2.json("[\"Internal_error\",\"sr: sr vdi: " + vdi + " Datapath stranger not attached\"]"),
                v2.error("DP.attach_info", "dbg", "t", "sr", "sr", "vdi", vdi, "dp", "stranger", "vm", "0"));
        v2.ok("VDI.deactivate", "dbg", "t", "dp", "owner", "sr", "sr", "vdi", vdi, "vm", "0");
        v2.ok("VDI.detach", "dbg", "t", "dp", "owner", "sr", "sr", "vdi", vdi, "vm", "0");
        assertEquals(List.of("datapath/file/Datapath.deactivate", "datapath/file/Datapath.detach"), datapathScripts());
        assertFalse(ledger(vdi).get("attached").asBoolean());
    }

    @Test
    void aReadWriteAttachBesideReadOnlyHoldersIsRefusedAndChangesNothing() throws Exception {
        String vdi = newVdi();
        v2.ok("VDI.attach3", "dbg", "t", "dp", "ro", "sr", "sr", "vdi", vdi, "vm", "0", "read_write", false);
        root.newRequests();
        assertEquals(V2.json("[\"Illegal_transition\",[[\"Attached\",\"RO\"],[\"Attached\",\"RW\"]]]"),
                v2.error("VDI.attach3", "dbg", "t", "dp", "rw", "sr", "sr", "vdi", vdi, "vm", "0", "read_write", true));
        assertEquals(List.of(), datapathScripts());
        v2.ok("VDI.detach", "dbg", "t", "dp", "rw", "sr", "sr", "vdi", vdi, "vm", "0");
        assertTrue(ledger(vdi).get("attached").asBoolean(), "the refused datapath holds nothing to detach");
        v2.ok("VDI.detach", "dbg", "t", "dp", "ro", "sr", "sr", "vdi", vdi, "vm", "0");
        assertFalse(ledger(vdi).get("attached").asBoolean());
    }

    @Test
    void srDestroyIsRefusedWhileHeldAndSrDetachTearsTheHoldersDownFirst() throws Exception {
        String vdi = newVdi();
        String other = newVdi();
        v2.ok("VDI.attach3", "dbg", "t", "dp", "a", "sr", "sr", "vdi", vdi, "vm", "0", "read_write", true);
        v2.ok("VDI.activate3", "dbg", "t", "dp", "a", "sr", "sr", "vdi", vdi, "vm", "0");
        v2.ok("VDI.attach3", "dbg", "t", "dp", "b", "sr", "sr", "vdi", other, "vm", "0", "read_write", false);
        JsonNode refused = v2.error("SR.destroy", "dbg", "t", "sr", "sr");
        assertEquals("SR_DEVICE_IN_USE", refused.get(1).get(0).asText(), refused.toString());
        assertTrue(Files.exists(Path.of(srPath, vdi + ".raw")), "no volume was deleted");
        v2.ok("SR.detach", "dbg", "t", "sr", "sr");
        assertFalse(ledger(vdi).get("attached").asBoolean(), ledger(vdi).toString());
        assertFalse(ledger(other).get("attached").asBoolean(), ledger(other).toString());
        assertFalse(bridge.attachedSrs().srs().contains("sr"));
        v2.ok("SR.attach", "dbg", "t", "sr", "sr", "device_config", V2.map("path", srPath));
        v2.ok("SR.destroy", "dbg", "t", "sr", "sr");
    }

    @Test
    void vdiDestroyTearsItsHoldersDownFirst() throws Exception {
        String vdi = newVdi();
        v2.ok("VDI.attach3", "dbg", "t", "dp", "a", "sr", "sr", "vdi", vdi, "vm", "0", "read_write", true);
        v2.ok("VDI.activate3", "dbg", "t", "dp", "a", "sr", "sr", "vdi", vdi, "vm", "0");
        root.newRequests();
        v2.ok("VDI.destroy", "dbg", "t", "sr", "sr", "vdi", vdi);
        assertEquals(List.of("datapath/file/Datapath.deactivate", "datapath/file/Datapath.detach"), datapathScripts());
        assertFalse(Files.exists(Path.of(srPath, vdi + ".raw")));
        assertTrue(Json.parse(Files.readString(root.state.resolve(HolderTable.FILE))).get("volumes").isEmpty());
    }

    /** Issue 14.1: DP.stat_vdi answers from the holders; a bridge started in another boot holds nothing. */
    @Test
    void dpStatVdiShowsTheHoldersAndAfterARebootNothingIsAttached() throws Exception {
        String vdi = newVdi();
        v2.ok("VDI.attach3", "dbg", "t", "dp", "a", "sr", "sr", "vdi", vdi, "vm", "0", "read_write", true);
        v2.ok("VDI.activate3", "dbg", "t", "dp", "a", "sr", "sr", "vdi", vdi, "vm", "0");
        JsonNode stat = statVdi(vdi);
        assertEquals(List.of("a"), fieldNames(stat.get("dps")), stat.toString());
        assertEquals(stat.get("dps").get("a"), stat.get("superstate"), stat.toString());
        bridge.close();

        Path bootId = tmp.resolve("boot_id");
        Files.writeString(bootId, "another-boot\n");
        bridge = Smapiv3Bridge.start(root.config().withBootIdFile(bootId), null, root.environment());
        v2 = new V2(bridge, "simplefile");
        assertEquals("Sr_not_attached", v2.error("DP.stat_vdi", "dbg", "t", "sr", "sr", "vdi", vdi, "unit",
                V2.json("null")).get(0).asText());
        root.newRequests();
        v2.ok("SR.attach", "dbg", "t", "sr", "sr", "device_config", V2.map("path", srPath));
        assertTrue(root.newRequests().stream().anyMatch(r -> r.script().equals("SR.attach")),
                "SR.attach runs the plugin's SR.attach again");
        assertEquals(List.of(), fieldNames(statVdi(vdi).get("dps")));
        v2.ok("VDI.attach3", "dbg", "t", "dp", "a", "sr", "sr", "vdi", vdi, "vm", "0", "read_write", true);
        assertTrue(Files.exists(root.state.resolve("state.db.previous-boot")));
        assertTrue(Files.exists(root.state.resolve(HolderTable.FILE + ".previous-boot")));
    }

    private JsonNode statVdi(String vdi) {
        return v2.ok("DP.stat_vdi", "dbg", "t", "sr", "sr", "vdi", vdi, "unit", V2.json("null"));
    }

    private static List<String> fieldNames(JsonNode o) {
        List<String> out = new ArrayList<>();
        o.fieldNames().forEachRemaining(out::add);
        return out;
    }
}
