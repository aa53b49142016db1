package org.xenstorage.smapiv3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.idl.wire.Json;

/**
 * In the spirit of upstream's python-self-test.t: one scripted sequence of SMAPIv2 calls against the
 * shipped example plugins (simplefile volumes, file datapath), checking every script run (name, argv,
 * stdin byte for byte) and every reply.
 */
class GoldenSelfTest {
    @TempDir
    Path tmp;
    PluginRoot root;
    Smapiv3Bridge bridge;
    V2 v2;
    Path volumeDir;
    Path datapathDir;

    @BeforeEach
    void start() throws Exception {
        root = new PluginRoot(tmp);
        volumeDir = root.copyExamples();
        datapathDir = root.datapath.resolve("file");
        bridge = root.start();
        v2 = new V2(bridge, "simplefile");
        // registering the file and qdisk datapaths ran each one's Plugin.Query once
        assertEquals(List.of("datapath/file/Plugin.Query", "datapath/qdisk/Plugin.Query"),
                scripts(root.newRequests()).stream().sorted().toList());
    }

    @AfterEach
    void stop() {
        bridge.close();
    }

    private static List<String> scripts(List<PluginRoot.Request> requests) {
        return requests.stream().map(PluginRoot.Request::script).toList();
    }

    /** Asserts exactly these script runs happened since the last check: name, --json, stdin text. */
    private void expectRuns(String... scriptAndStdin) throws Exception {
        List<PluginRoot.Request> runs = root.newRequests();
        assertEquals(scriptAndStdin.length / 2, runs.size(), "script runs: " + runs);
        for (int i = 0; i < runs.size(); i++) {
            assertEquals(scriptAndStdin[2 * i], runs.get(i).script(), "run " + i);
            assertEquals(List.of("--json"), runs.get(i).argv(), "argv of run " + i);
            assertEquals(scriptAndStdin[2 * i + 1], runs.get(i).stdin(), "stdin of " + runs.get(i).script());
        }
    }

    private static ObjectNode vdi(String key, String name, String description, String ty, String contentId,
                                  boolean isSnapshot, String snapshotTime, String snapshotOf, boolean readOnly,
                                  long size, JsonNode actual, String smConfig, String tags) {
        ObjectNode o = Json.NODES.objectNode();
        o.put("vdi", key).put("uuid", key).put("content_id", contentId).put("name_label", name)
                .put("name_description", description).put("ty", ty).put("metadata_of_pool", "")
                .put("is_a_snapshot", isSnapshot).put("snapshot_time", snapshotTime).put("snapshot_of", snapshotOf)
                .put("read_only", readOnly).put("cbt_enabled", false).put("virtual_size", size);
        // a sparse file's allocation depends on the filesystem; it is checked for sanity, not value
        long physical = actual.get("physical_utilisation").asLong();
        assertTrue(physical >= 0 && physical <= size + 65536, "physical_utilisation " + physical);
        o.put("physical_utilisation", physical).put("persistent", true).put("sharable", false);
        o.set("sm_config", V2.json(smConfig));
        o.set("tags", V2.json(tags));
        return o;
    }

    /** A new simplefile SR {@code sr}, created and attached; returns its directory. */
    private String attachedSr(String sr) {
        String srPath = tmp.resolve(sr).toString();
        v2.ok("SR.create", "dbg", "t", "sr", sr, "name_label", "n", "name_description", "d",
                "device_config", V2.map("path", srPath), "physical_size", 0L);
        v2.ok("SR.attach", "dbg", "t", "sr", sr, "device_config", V2.map("path", srPath));
        return srPath;
    }

    /**
     * Issue 13.9: tearing down a datapath of a volume the plugin no longer has (destroyed behind the bridge's
     * back) has nothing to undo and succeeds, as on SMAPIv1; before the fix it failed with Volume_does_not_exist.
     * A datapath that holds nothing does not even look the volume up.
     */
    @Test
    void teardownOfAnUnknownVolumeIsANoOp() throws Exception {
        String srPath = attachedSr("td-sr");
        root.newRequests();
        v2.ok("VDI.deactivate", "dbg", "t", "dp", "nobody", "sr", "td-sr", "vdi", "no-such-volume", "vm", "0");
        v2.ok("VDI.detach", "dbg", "t", "dp", "nobody", "sr", "td-sr", "vdi", "no-such-volume", "vm", "0");
        v2.ok("DP.destroy2", "dbg", "t", "dp", "nobody", "sr", "td-sr", "vdi", "no-such-volume", "vm", "0",
                "allow_leak", false);
        assertEquals(List.of(), scripts(root.newRequests()), "a datapath that holds nothing runs no script");
        String vdi = v2.ok("VDI.create", "dbg", "t", "sr", "td-sr", "vdi_info", V2.json("{\"vdi\":\"x\","
                + "\"name_label\":\"disk\",\"ty\":\"user\",\"virtual_size\":1048576}")).get("vdi").asText();
        v2.ok("VDI.attach3", "dbg", "t", "dp", "gone", "sr", "td-sr", "vdi", vdi, "vm", "0", "read_write", true);
        v2.ok("VDI.activate3", "dbg", "t", "dp", "gone", "sr", "td-sr", "vdi", vdi, "vm", "0");
        Files.delete(Path.of(srPath, vdi + ".json")); // the volume vanishes behind the bridge's back
        root.newRequests();
        v2.ok("DP.destroy2", "dbg", "t", "dp", "gone", "sr", "td-sr", "vdi", vdi, "vm", "0", "allow_leak", false);
        assertEquals(List.of("Volume.stat"), scripts(root.newRequests()),
                "only the lookup ran: no datapath script for a volume that is not there");
        assertTrue(bridge.attachedSrs().srs().contains("td-sr"));
        v2.ok("SR.detach", "dbg", "t", "sr", "td-sr");
        assertEquals(List.of("SR.detach"), scripts(root.newRequests()), "the datapath is no longer held");
    }

    /**
     * Issue 13.7 (the example plugin's part): a datapath that never held a volume cannot detach another's.
     * Before the fix, VDI.detach from {@code stranger} removed {@code owner}'s attachment in the file datapath,
     * and owner's activate then failed with Volume_not_attached.
     */
    @Test
    void aTeardownFromADatapathThatNeverHeldTheVolumeLeavesTheHolderAlone() throws Exception {
        String srPath = attachedSr("h-sr");
        String vdi = v2.ok("VDI.create", "dbg", "t", "sr", "h-sr", "vdi_info", V2.json("{\"vdi\":\"x\","
                + "\"name_label\":\"disk\",\"ty\":\"user\",\"virtual_size\":1048576}")).get("vdi").asText();
        v2.ok("VDI.attach3", "dbg", "t", "dp", "owner", "sr", "h-sr", "vdi", vdi, "vm", "0", "read_write", true);
        v2.ok("VDI.deactivate", "dbg", "t", "dp", "stranger", "sr", "h-sr", "vdi", vdi, "vm", "0");
        v2.ok("VDI.detach", "dbg", "t", "dp", "stranger", "sr", "h-sr", "vdi", vdi, "vm", "0");
        v2.ok("VDI.activate3", "dbg", "t", "dp", "owner", "sr", "h-sr", "vdi", vdi, "vm", "0");
        JsonNode entry = Json.parse(Files.readString(Path.of(srPath, ".datapath-ledger.json")))
                .get(srPath + "/" + vdi + ".raw");
        assertTrue(entry.get("attached").asBoolean() && entry.get("activated").asBoolean(), entry.toString());
        assertEquals("u0_owner", entry.get("domain").asText());
    }

    @Test
    void scriptedSequenceAgainstTheExamplePlugins() throws Exception {
        String srPath = tmp.resolve("sr-golden").toString();
        String handle = "file://" + srPath;
        final long mib = 1 << 20;

        // 1. Query.query -> Plugin.query (file Plugin.Query, matched without regard to case)
        JsonNode q = v2.ok("Query.query", "dbg", "golden");
        expectRuns("Plugin.Query", "{\"dbg\":\"golden\"}");
        assertEquals("simplefile", q.get("driver").asText());
        assertEquals("SMAPIv3", q.get("smapi_version").asText());
        assertEquals("5.0", q.get("required_api_version").asText());
        assertEquals(V2.json("[]"), q.get("supported_image_formats"));
        assertEquals(V2.json("[\"VDI_RESET_ON_BOOT/2\",\"SR_ATTACH\",\"SR_DETACH\",\"SR_CREATE\",\"SR_PROBE\","
                + "\"VDI_CREATE\",\"VDI_DELETE\",\"VDI_SNAPSHOT\",\"VDI_CLONE\",\"VDI_RESIZE\",\"THIN_PROVISIONING\","
                + "\"VDI_ACTIVATE_READONLY\",\"VDI_UPDATE\",\"VDI_DELETE\",\"VDI_RESIZE\",\"VDI_SNAPSHOT\","
                + "\"VDI_CLONE\",\"VDI_CREATE\",\"SR_PROBE\","
                + "\"SR_UPDATE\",\"SR_SCAN\",\"SR_DETACH\",\"SR_DELETE\",\"SR_CREATE\",\"SR_ATTACH\","
                + "\"VDI_ATTACH\",\"VDI_DETACH\",\"VDI_ACTIVATE\",\"VDI_DEACTIVATE\",\"VDI_INTRODUCE\"]"),
                q.get("features"));

        // 2. Query.diagnostics -> Plugin.diagnostics
        JsonNode d = v2.ok("Query.diagnostics", "dbg", "golden");
        expectRuns("Plugin.diagnostics", "{\"dbg\":\"golden\"}");
        assertTrue(d.asText().startsWith("simplefile"));

        // 3. SR.create -> SR.create; the configuration it returns is the reply; not attached
        JsonNode created = v2.ok("SR.create", "dbg", "golden", "sr", "golden-sr", "name_label", "golden name",
                "name_description", "golden description", "device_config", V2.map("path", srPath), "physical_size", 0L);
        expectRuns("SR.create", "{\"description\":\"golden description\",\"name\":\"golden name\",\"configuration\":"
                + "{\"path\":\"" + srPath + "\"},\"uuid\":\"golden-sr\",\"dbg\":\"golden\"}");
        assertEquals(V2.json("{\"path\":\"" + srPath + "\"}"), created);
        assertEquals(V2.json("[]"), v2.ok("SR.list", "dbg", "golden"));

        // 4. SR.detach of an SR that is not attached: success, no script
        v2.ok("SR.detach", "dbg", "golden", "sr", "golden-sr");
        expectRuns();

        // 5. SR.attach -> SR.attach, SR.stat; persisted
        assertTrue(v2.ok("SR.attach", "dbg", "golden", "sr", "golden-sr", "device_config", created).isNull());
        expectRuns("SR.attach", "{\"configuration\":{\"path\":\"" + srPath + "\"},\"dbg\":\"golden\"}",
                "SR.stat", "{\"sr\":\"" + handle + "\",\"dbg\":\"golden\"}");
        assertEquals("((golden-sr((sr file://" + srPath + ")(uids()))))",
                Files.readString(root.state.resolve("state.db")));
        assertEquals(V2.json("[\"golden-sr\"]"), v2.ok("SR.list", "dbg", "golden"));

        // 6. VDI.create -> Volume.create, Volume.set vdi-type
        JsonNode a = v2.ok("VDI.create", "dbg", "golden", "sr", "golden-sr", "vdi_info",
                V2.json("{\"vdi\":\"ignored\",\"name_label\":\"disk A\",\"name_description\":\"first\","
                        + "\"ty\":\"user\",\"virtual_size\":" + mib + "}"));
        String keyA = a.get("vdi").asText();
        expectRuns("Volume.create", "{\"sharable\":false,\"size\":" + mib + ",\"description\":\"first\","
                        + "\"name\":\"disk A\",\"sr\":\"" + handle + "\",\"dbg\":\"golden\"}",
                "Volume.set", "{\"v\":\"user\",\"k\":\"vdi-type\",\"key\":\"" + keyA + "\",\"sr\":\"" + handle
                        + "\",\"dbg\":\"golden\"}");
        assertEquals(vdi(keyA, "disk A", "first", "user", "", false, "19700101T00:00:00Z", "", false, mib, a,
                "{}", "[]"), a);
        // issue 13.9: the example plugin made volumes 0644 (umask); a guest's disk is private, as LocalfileSR's
        assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
                Files.getPosixFilePermissions(Path.of(srPath, keyA + ".raw"))));

        // 7. metadata setters -> Volume.set with the reserved key names; VDI.stat shows them
        v2.ok("VDI.add_to_sm_config", "dbg", "golden", "sr", "golden-sr", "vdi", keyA, "key", "x", "value", "1");
        v2.ok("VDI.add_tags", "dbg", "golden", "sr", "golden-sr", "vdi", keyA, "key", "red");
        v2.ok("VDI.set_content_id", "dbg", "golden", "sr", "golden-sr", "vdi", keyA, "content_id", "cid-1");
        v2.ok("VDI.set_name_label", "dbg", "golden", "sr", "golden-sr", "vdi", keyA, "new_name_label", "disk A2");
        String keyArgs = "\"key\":\"" + keyA + "\",\"sr\":\"" + handle + "\",\"dbg\":\"golden\"}";
        expectRuns("Volume.set", "{\"v\":\"1\",\"k\":\"_sm_config_x\"," + keyArgs,
                "Volume.set", "{\"v\":\"red\",\"k\":\"tagsred\"," + keyArgs,
                "Volume.set", "{\"v\":\"cid-1\",\"k\":\"content_id\"," + keyArgs,
                "Volume.set_name", "{\"new_name\":\"disk A2\"," + keyArgs);
        JsonNode statA = v2.ok("VDI.stat", "dbg", "golden", "sr", "golden-sr", "vdi", keyA);
        expectRuns("Volume.stat", "{" + keyArgs);
        assertEquals(vdi(keyA, "disk A2", "first", "user", "cid-1", false, "19700101T00:00:00Z", "", false, mib,
                statA, "{\"x\":\"1\"}", "[\"red\"]"), statA);

        // 8. VDI.snapshot -> Volume.snapshot, then five Volume.set on the snapshot, tags on the snapshot
        JsonNode snap = v2.ok("VDI.snapshot", "dbg", "golden", "sr", "golden-sr", "vdi_info", statA);
        String keyS = snap.get("vdi").asText();
        String time = snap.get("snapshot_time").asText();
        assertTrue(time.matches("\\d{8}T\\d{2}:\\d{2}:\\d{2}Z"), time);
        String snapArgs = "\"key\":\"" + keyS + "\",\"sr\":\"" + handle + "\",\"dbg\":\"golden\"}";
        expectRuns("Volume.snapshot", "{" + keyArgs,
                "Volume.set", "{\"v\":\"" + time + "\",\"k\":\"snapshot_time\"," + snapArgs,
                "Volume.set", "{\"v\":\"true\",\"k\":\"is_a_snapshot\"," + snapArgs,
                "Volume.set", "{\"v\":\"" + keyA + "\",\"k\":\"snapshot_of\"," + snapArgs,
                "Volume.set", "{\"v\":\"cid-1\",\"k\":\"content_id\"," + snapArgs,
                "Volume.set", "{\"v\":\"user\",\"k\":\"vdi-type\"," + snapArgs,
                "Volume.set", "{\"v\":\"red\",\"k\":\"tagsred\"," + snapArgs);
        // content_id and ty come from the snapshot's keys as Volume.snapshot printed them (none yet)
        assertEquals(vdi(keyS, "disk A2", "first", "", "", true, time, keyA, true, mib, snap, "{}", "[]"), snap);
        JsonNode snapStat = v2.ok("VDI.stat", "dbg", "golden", "sr", "golden-sr", "vdi", keyS);
        root.newRequests();
        assertEquals(vdi(keyS, "disk A2", "first", "user", "cid-1", true, time, keyA, true, mib, snapStat, "{}",
                "[\"red\"]"), snapStat);

        // 9. VDI.resize -> Volume.resize, Volume.stat: the size the plugin reports
        JsonNode size = v2.ok("VDI.resize", "dbg", "golden", "sr", "golden-sr", "vdi", keyA, "new_size", 2 * mib);
        expectRuns("Volume.resize", "{\"new_size\":" + 2 * mib + "," + keyArgs, "Volume.stat", "{" + keyArgs);
        assertEquals(2 * mib, size.asLong());
        JsonNode shrink = v2.error("VDI.resize", "dbg", "golden", "sr", "golden-sr", "vdi", keyA, "new_size", 1L);
        root.newRequests();
        assertEquals("Backend_error_with_backtrace", shrink.get(0).asText());
        assertEquals("SR_BACKEND_FAILURE_79", shrink.get(1).get(0).asText());
        assertEquals(List.of("VDI Invalid size", "shrinking not allowed"),
                List.of(shrink.get(1).get(1).get(1).asText(), shrink.get(1).get(1).get(2).asText()));

        // 10. VDI.epoch_begin non-persistent: the file datapath has no NONPERSISTENT -> clone-on-boot
        v2.ok("VDI.epoch_begin", "dbg", "golden", "sr", "golden-sr", "vdi", keyA, "vm", "7", "persistent", false);
        List<PluginRoot.Request> begin = root.newRequests();
        assertEquals(List.of("Volume.stat", "Volume.clone", "Volume.set"), scripts(begin));
        assertEquals("{" + keyArgs, begin.get(1).stdin());
        String keyC = begin.get(2).json().get("v").asText();
        assertEquals("{\"v\":\"" + keyC + "\",\"k\":\"clone-on-boot\"," + keyArgs, begin.get(2).stdin());

        // 11. SR.scan2 -> SR.stat, SR.ls; the temporary clone is not listed
        JsonNode scan = v2.ok("SR.scan2", "dbg", "golden", "sr", "golden-sr");
        expectRuns("SR.stat", "{\"sr\":\"" + handle + "\",\"dbg\":\"golden\"}",
                "SR.ls", "{\"sr\":\"" + handle + "\",\"dbg\":\"golden\"}");
        List<String> listed = new java.util.ArrayList<>();
        scan.get(0).forEach(v -> listed.add(v.get("vdi").asText()));
        assertEquals(new java.util.TreeSet<>(List.of(keyA, keyS)), new java.util.TreeSet<>(listed));
        assertEquals("golden name", scan.get(1).get("name_label").asText());
        assertEquals("golden-sr", scan.get(1).get("sr_uuid").asText());
        assertEquals("Healthy", scan.get(1).get("health").asText());

        // 12. attach3/activate3 use the clone's URI; domain for dom0 is named after the dp
        String cloneUri = "file://" + srPath + "/" + keyC + ".raw";
        String dpArgs = "{\"domain\":\"u0_vbd_0_xvda\",\"uri\":\"" + cloneUri + "\",\"dbg\":\"golden\"}";
        String cloneArgs = "{\"key\":\"" + keyC + "\",\"sr\":\"" + handle + "\",\"dbg\":\"golden\"}";
        JsonNode backend = v2.ok("VDI.attach3", "dbg", "golden", "dp", "vbd/0/xvda", "sr", "golden-sr", "vdi", keyA,
                "vm", "0", "read_write", true);
        expectRuns("Volume.stat", "{" + keyArgs, "Volume.stat", cloneArgs, "datapath/file/Datapath.attach", dpArgs);
        assertEquals(V2.json("{\"implementations\":[[\"File\",{\"path\":\"" + srPath + "/" + keyC + ".raw\"}]]}"),
                backend);
        v2.ok("VDI.activate3", "dbg", "golden", "dp", "vbd/0/xvda", "sr", "golden-sr", "vdi", keyA, "vm", "0");
        expectRuns("Volume.stat", "{" + keyArgs, "Volume.stat", cloneArgs, "datapath/file/Datapath.activate", dpArgs);
        v2.ok("VDI.deactivate", "dbg", "golden", "dp", "vbd/0/xvda", "sr", "golden-sr", "vdi", keyA, "vm", "0");
        expectRuns("Volume.stat", "{" + keyArgs, "Volume.stat", cloneArgs, "datapath/file/Datapath.deactivate",
                dpArgs);
        v2.ok("VDI.detach", "dbg", "golden", "dp", "vbd/0/xvda", "sr", "golden-sr", "vdi", keyA, "vm", "0");
        expectRuns("Volume.stat", "{" + keyArgs, "Volume.stat", cloneArgs, "datapath/file/Datapath.detach", dpArgs);

        // 13. VDI.epoch_end -> destroy the temporary clone, forget it
        v2.ok("VDI.epoch_end", "dbg", "golden", "sr", "golden-sr", "vdi", keyA, "vm", "7");
        expectRuns("Volume.stat", "{" + keyArgs, "Volume.destroy", cloneArgs,
                "Volume.unset", "{\"k\":\"clone-on-boot\"," + keyArgs);
        assertFalse(Files.exists(Path.of(srPath, keyC + ".raw")));

        // 14. VDI.clone -> Volume.clone; VDI.destroy -> Volume.stat, Volume.destroy
        JsonNode clone = v2.ok("VDI.clone", "dbg", "golden", "sr", "golden-sr", "vdi_info", statA);
        expectRuns("Volume.clone", "{" + keyArgs);
        String keyK = clone.get("vdi").asText();
        assertEquals(vdi(keyK, "disk A2", "first", "", "", false, "19700101T00:00:00Z", "", false, 2 * mib, clone,
                "{}", "[]"), clone);
        v2.ok("VDI.destroy", "dbg", "golden", "sr", "golden-sr", "vdi", keyK);
        String cloneKeyArgs = "{\"key\":\"" + keyK + "\",\"sr\":\"" + handle + "\",\"dbg\":\"golden\"}";
        expectRuns("Volume.stat", cloneKeyArgs, "Volume.destroy", cloneKeyArgs);

        // 15. SR.probe -> SR.probe: the SR is found with its uuid
        JsonNode probe = v2.ok("SR.probe", "dbg", "golden", "queue", "org.xen.xapi.storage.simplefile",
                "device_config", V2.map("path", srPath), "sm_config", V2.map());
        expectRuns("SR.probe", "{\"configuration\":{\"path\":\"" + srPath + "\"},\"dbg\":\"golden\"}");
        assertEquals("Probe", probe.get(0).asText());
        assertEquals(1, probe.get(1).size());
        assertEquals("golden-sr", probe.get(1).get(0).get("sr").get("sr_uuid").asText());
        assertTrue(probe.get(1).get(0).get("complete").asBoolean());

        // 16. SR.stat, SR.set_name_label
        v2.ok("SR.set_name_label", "dbg", "golden", "sr", "golden-sr", "new_name_label", "renamed");
        JsonNode srInfo = v2.ok("SR.stat", "dbg", "golden", "sr", "golden-sr");
        expectRuns("SR.set_name", "{\"new_name\":\"renamed\",\"sr\":\"" + handle + "\",\"dbg\":\"golden\"}",
                "SR.stat", "{\"sr\":\"" + handle + "\",\"dbg\":\"golden\"}");
        assertEquals("renamed", srInfo.get("name_label").asText());
        assertTrue(srInfo.get("total_space").asLong() > 0);

        // 17. SR.detach -> SR.detach; the table is empty and persisted so
        v2.ok("SR.detach", "dbg", "golden", "sr", "golden-sr");
        expectRuns("SR.detach", "{\"sr\":\"" + handle + "\",\"dbg\":\"golden\"}");
        assertEquals("()", Files.readString(root.state.resolve("state.db")));
        assertEquals(V2.json("[\"Sr_not_attached\",\"golden-sr\"]"),
                v2.error("VDI.stat", "dbg", "golden", "sr", "golden-sr", "vdi", keyA));
        expectRuns();
    }
}
