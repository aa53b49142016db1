package org.xenstorage.smapiv3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.testing.Soon;

/**
 * The translation of spec section 4, call by call, against fake plugins that log what they receive
 * (the spec's acceptance tests 8-25, given/when/then).
 */
class TranslationSpecTest {
    @TempDir
    Path tmp;
    PluginRoot root;
    Path dir;
    Path vols;
    Smapiv3Bridge bridge;
    V2 v2;

    static final String STAT = "{\"sr\":\"plug-sr\",\"name\":\"n\",\"uuid\":\"sr-uuid\",\"description\":\"d\","
            + "\"free_space\":1,\"total_space\":2,\"datasources\":[],\"clustered\":false,\"health\":[\"Healthy\",\"\"]}";

    @BeforeEach
    void start() throws Exception {
        root = new PluginRoot(tmp);
        dir = root.volume.resolve("org.xen.xapi.storage.fake");
        vols = tmp.resolve("vols.json");
        Files.writeString(vols, "{}");
        PluginRoot.fakePrinting(dir, "SR.attach", "\"plug-sr\"");
        PluginRoot.fakePrinting(dir, "SR.stat", STAT);
        // Volume.* scripts answer from vols.json, keyed by volume key
        String lookup = "vols = json.load(open(" + PluginRoot.pyString(vols.toString()) + "))\n";
        PluginRoot.fake(dir, "Volume.stat", lookup + "print(json.dumps(vols[args['key']]))");
        PluginRoot.fake(dir, "Volume.clone", lookup + "print(json.dumps(vols['clone-of-' + args['key']]))");
        PluginRoot.fake(dir, "Volume.snapshot", lookup + "print(json.dumps(vols['snap-of-' + args['key']]))");
        PluginRoot.fake(dir, "Volume.create", lookup + "print(json.dumps(vols['created']))");
        PluginRoot.fake(dir, "SR.ls", lookup + "print(json.dumps([v for k, v in sorted(vols.items()) if k == v['key']]))");
        for (String unit : List.of("Volume.set", "Volume.unset", "Volume.destroy", "Volume.resize", "SR.detach")) {
            PluginRoot.fakePrinting(dir, unit, "null");
        }
        bridge = root.start();
        v2 = new V2(bridge, "fake");
        v2.ok("SR.attach", "dbg", "d", "sr", "sr1", "device_config", V2.map("uri", "x"));
        root.newRequests();
    }

    @AfterEach
    void stop() {
        bridge.close();
    }

    /** Writes the fake volumes: each entry {key: {...volume...}}. */
    void volumes(String json) throws Exception {
        Files.writeString(vols, json);
    }

    static String volume(String key, String uris, String keys) {
        return "{\"key\":\"" + key + "\",\"name\":\"n-" + key + "\",\"description\":\"d\",\"read_write\":true,"
                + "\"sharable\":false,\"virtual_size\":4096,\"physical_utilisation\":0,\"uri\":" + uris
                + ",\"keys\":" + keys + "}";
    }

    List<String> runs() throws Exception {
        return root.newRequests().stream().map(r -> r.script() + " " + r.stdin()).toList();
    }

    Path datapath(String scheme, String version, String features) throws Exception {
        return datapath(scheme, version, features, java.util.Map.of());
    }

    /** Builds the plugin aside and moves it in whole, so it is registered once (as a careful installer does). */
    Path datapath(String scheme, String version, String features, java.util.Map<String, String> more)
            throws Exception {
        Path d = tmp.resolve("staging").resolve(scheme);
        for (java.util.Map.Entry<String, String> e : more.entrySet()) {
            PluginRoot.fakePrinting(d, e.getKey(), e.getValue());
        }
        PluginRoot.fakePrinting(d, "Plugin.Query", "{\"plugin\":\"" + scheme + "\",\"name\":\"n\",\"description\":\"d\","
                + "\"vendor\":\"v\",\"copyright\":\"c\",\"version\":\"1\",\"required_api_version\":\"" + version
                + "\",\"features\":" + features + ",\"configuration\":{},\"required_cluster_stack\":[]}");
        PluginRoot.fakePrinting(d, "Datapath.attach", "{\"implementations\":[[\"XenDisk\",{\"params\":\"p\","
                + "\"extra\":{},\"backend_type\":\"vbd3\"}],[\"BlockDevice\",{\"path\":\"/dev/sda\"}]]}");
        for (String unit : List.of("Datapath.activate", "Datapath.activate_readonly", "Datapath.deactivate",
                "Datapath.detach", "Datapath.open", "Datapath.close")) {
            PluginRoot.fakePrinting(d, unit, "null");
        }
        return Files.move(d, root.datapath.resolve(scheme));
    }

    void awaitDatapaths(String... schemes) throws Exception {
        java.util.Set<String> want = new java.util.TreeSet<>(List.of(schemes));
        // the last registrations seen are the failure's cause
        Soon.await("datapaths " + want + " registered", () -> {
            if (!bridge.datapaths().equals(want)) {
                throw new IllegalStateException("registered: " + bridge.datapaths());
            }
            return true;
        });
    }

    // ------------------------------------------------------------------ Query

    @Test
    void queryFeaturesFollowThePluginAndItsScripts() throws Exception {
        PluginRoot.fakePrinting(dir, "Plugin.Query", "{\"plugin\":\"dummy\",\"name\":\"n\",\"description\":\"d\","
                + "\"vendor\":\"v\",\"copyright\":\"c\",\"version\":\"1\",\"required_api_version\":\"5.0\","
                + "\"features\":[\"SR_ATTACH\",\"VDI_DESTROY\"],\"configuration\":{\"uri\":\"u\"},"
                + "\"required_cluster_stack\":[],\"extra\":\"ignored\"}");
        JsonNode q = v2.ok("Query.query", "dbg", "d");
        assertEquals("dummy", q.get("driver").asText());
        assertEquals(V2.json("[\"VDI_RESET_ON_BOOT/2\",\"SR_ATTACH\",\"VDI_DELETE\",\"VDI_UPDATE\",\"VDI_DELETE\","
                + "\"VDI_RESIZE\",\"VDI_SNAPSHOT\",\"VDI_CLONE\",\"VDI_CREATE\",\"SR_UPDATE\",\"SR_SCAN\",\"SR_DETACH\","
                + "\"SR_ATTACH\",\"VDI_ATTACH\",\"VDI_DETACH\",\"VDI_ACTIVATE\",\"VDI_DEACTIVATE\",\"VDI_INTRODUCE\"]"),
                q.get("features"));
        Files.delete(dir.resolve("Volume.clone"));
        assertFalse(v2.ok("Query.query", "dbg", "d").get("features").toString().contains("RESET_ON_BOOT"));
    }

    // ------------------------------------------------------------------ SR

    @Test
    void attachIsPersistedAndSurvivesARestartAndUpstreamStateIsRead() throws Exception {
        assertEquals("((sr1((sr plug-sr)(uids()))))", Files.readString(root.state.resolve("state.db")));
        bridge.close();
        // a host switching from xapi-storage-script: its state.db is read as it is
        Files.writeString(root.state.resolve("state.db"),
                "((sr1((sr plug-sr)(uids())))(\"upper\"((sr\"file:///tmp/a b\")(uids()))))");
        bridge = root.start();
        v2 = new V2(bridge, "fake");
        v2.ok("SR.stat", "dbg", "d", "sr", "sr1");
        v2.ok("SR.stat", "dbg", "d", "sr", "upper");
        assertEquals(List.of("SR.stat {\"sr\":\"plug-sr\",\"dbg\":\"d\"}",
                "SR.stat {\"sr\":\"file:///tmp/a b\",\"dbg\":\"d\"}"), runs());
    }

    @Test
    void detachIsIdempotentAndUnattachedSrsAreRefused() throws Exception {
        v2.ok("SR.detach", "dbg", "d", "sr", "nope");
        assertEquals(List.of(), runs());
        assertEquals(V2.json("[\"Sr_not_attached\",\"nope\"]"), v2.error("SR.stat", "dbg", "d", "sr", "nope"));
        assertEquals(V2.json("[\"Sr_not_attached\",\"nope\"]"),
                v2.error("VDI.stat", "dbg", "d", "sr", "nope", "vdi", "v"));
        v2.ok("SR.detach", "dbg", "d", "sr", "sr1");
        assertEquals(List.of("SR.detach {\"sr\":\"plug-sr\",\"dbg\":\"d\"}"), runs());
        assertEquals(V2.json("[]"), v2.ok("SR.list", "dbg", "d"));
        assertEquals("()", Files.readString(root.state.resolve("state.db")));
    }

    @Test
    void failedDetachKeepsTheSrAttached() throws Exception {
        PluginRoot.fake(dir, "SR.detach", "sys.exit(2)");
        v2.error("SR.detach", "dbg", "d", "sr", "sr1");
        assertEquals(V2.json("[\"sr1\"]"), v2.ok("SR.list", "dbg", "d"));
    }

    @Test
    void srCreateReturnsTheScriptsConfigurationAndDoesNotAttach() throws Exception {
        PluginRoot.fakePrinting(dir, "SR.create", "{\"uri\":\"a\",\"extra\":\"1\"}");
        JsonNode r = v2.ok("SR.create", "dbg", "d", "sr", "u", "name_label", "n", "name_description", "dd",
                "device_config", V2.map("uri", "a"), "physical_size", 0L);
        assertEquals(V2.json("{\"uri\":\"a\",\"extra\":\"1\"}"), r);
        assertEquals(List.of("SR.create {\"description\":\"dd\",\"name\":\"n\",\"configuration\":{\"uri\":\"a\"},"
                + "\"uuid\":\"u\",\"dbg\":\"d\"}"), runs());
        assertEquals(V2.json("[\"sr1\"]"), v2.ok("SR.list", "dbg", "d"));
    }

    @Test
    void scanDropsTransientClonesAndScan2ChecksHealth() throws Exception {
        volumes("{\"A\":" + volume("A", "[]", "{\"clone-on-boot\":\"B\"}") + ",\"B\":" + volume("B", "[]", "{}") + "}");
        JsonNode scan = v2.ok("SR.scan", "dbg", "d", "sr", "sr1");
        assertEquals(1, scan.size());
        assertEquals("A", scan.get(0).get("vdi").asText());
        JsonNode scan2 = v2.ok("SR.scan2", "dbg", "d", "sr", "sr1");
        assertEquals("A", scan2.get(0).get(0).get("vdi").asText());
        assertEquals("sr-uuid", scan2.get(1).get("sr_uuid").asText());
        root.newRequests();

        PluginRoot.fakePrinting(dir, "SR.stat", STAT.replace("[\"Healthy\",\"\"]", "[\"Unreachable\",\"\"]"));
        assertEquals(V2.json("[\"Sr_unhealthy\",[\"sr1\",\"Unreachable\"]]"),
                v2.error("SR.scan2", "dbg", "d", "sr", "sr1"));
        assertEquals(4, runs().size(), "SR.stat, then three retries");
        PluginRoot.fakePrinting(dir, "SR.stat", STAT.replace("[\"Healthy\",\"\"]", "[\"Recovering\",\"x\"]"));
        assertEquals(V2.json("[\"Sr_unhealthy\",[\"sr1\",\"Recovering\"]]"),
                v2.error("SR.scan2", "dbg", "d", "sr", "sr1"));
        assertEquals(1, runs().size());
    }

    @Test
    void probeResultsAreCheckedAndTranslated() throws Exception {
        PluginRoot.fakePrinting(dir, "SR.probe", "[{\"configuration\":{\"uri\":\"a\"},\"complete\":true,"
                + "\"extra_info\":{}},{\"configuration\":{\"uri\":\"b\",\"sr_uuid\":\"u\"},\"complete\":true,"
                + "\"sr\":" + STAT + ",\"extra_info\":{\"k\":\"v\"}}]");
        JsonNode p = v2.ok("SR.probe", "dbg", "d", "queue", "q", "device_config", V2.map("uri", "a"),
                "sm_config", V2.map());
        assertEquals("Probe", p.get(0).asText());
        assertFalse(p.get(1).get(0).has("sr"));
        assertEquals("n", p.get(1).get(1).get("sr").get("name_label").asText());
        assertEquals("sr-uuid", p.get(1).get(1).get("sr").get("sr_uuid").asText());
        PluginRoot.fakePrinting(dir, "SR.probe", "[{\"configuration\":{\"sr_uuid\":\"u\"},\"complete\":false,"
                + "\"extra_info\":{}}]");
        JsonNode e = v2.error("SR.probe", "dbg", "d", "queue", "q", "device_config", V2.map(), "sm_config", V2.map());
        assertEquals("SCRIPT_FAILED", e.get(1).get(0).asText());
        assertEquals("SR.probe", e.get(1).get(1).get(0).asText());
        assertTrue(e.get(1).get(1).get(1).asText().contains("cannot be incomplete"));
    }

    // ------------------------------------------------------------------ VDI

    @Test
    void vdiCreateStoresTheTypeOnlyWhenGiven() throws Exception {
        volumes("{\"created\":" + volume("k1", "[]", "{}") + "}");
        JsonNode r = v2.ok("VDI.create", "dbg", "d", "sr", "sr1", "vdi_info",
                V2.json("{\"vdi\":\"\",\"name_label\":\"L\",\"ty\":\"user\",\"virtual_size\":10,\"sharable\":true}"));
        assertEquals(List.of("Volume.create {\"sharable\":true,\"size\":10,\"description\":\"\",\"name\":\"L\","
                        + "\"sr\":\"plug-sr\",\"dbg\":\"d\"}",
                "Volume.set {\"v\":\"user\",\"k\":\"vdi-type\",\"key\":\"k1\",\"sr\":\"plug-sr\",\"dbg\":\"d\"}"),
                runs());
        assertEquals("k1", r.get("vdi").asText());
        assertEquals("user", r.get("ty").asText());
        assertTrue(r.get("persistent").asBoolean());
        assertFalse(r.get("read_only").asBoolean());
        v2.ok("VDI.create", "dbg", "d", "sr", "sr1", "vdi_info", V2.json("{\"vdi\":\"\",\"name_label\":\"L\",\"ty\":\"\"}"));
        assertEquals(1, runs().size(), "no Volume.set for an empty type");
    }

    @Test
    void volumeKeysMapOntoVdiInfo() throws Exception {
        volumes("{\"k\":" + volume("k", "[]", "{\"_sm_config_base_mirror\":\"3\",\"tagsfoo\":\"foo\","
                + "\"is_a_snapshot\":\"true\",\"snapshot_of\":\"p\",\"content_id\":\"c\","
                + "\"snapshot_time\":\"20200101T00:00:00Z\"}") + ",\"e\":" + volume("e", "[]", "{}") + "}");
        JsonNode k = v2.ok("VDI.stat", "dbg", "d", "sr", "sr1", "vdi", "k");
        assertEquals(V2.json("{\"base_mirror\":\"3\"}"), k.get("sm_config"));
        assertEquals(V2.json("[\"foo\"]"), k.get("tags"));
        assertTrue(k.get("is_a_snapshot").asBoolean());
        assertEquals("p", k.get("snapshot_of").asText());
        assertEquals("c", k.get("content_id").asText());
        assertEquals("20200101T00:00:00Z", k.get("snapshot_time").asText());
        JsonNode e = v2.ok("VDI.stat", "dbg", "d", "sr", "sr1", "vdi", "e");
        assertEquals("", e.get("ty").asText());
        assertEquals("19700101T00:00:00Z", e.get("snapshot_time").asText());
        assertFalse(e.has("uuid"));
    }

    @Test
    void metadataSettersUseTheReservedKeys() throws Exception {
        v2.ok("VDI.remove_from_sm_config", "dbg", "d", "sr", "sr1", "vdi", "k", "key", "x");
        v2.ok("VDI.remove_tags", "dbg", "d", "sr", "sr1", "vdi", "k", "key", "t");
        assertEquals(List.of(
                "Volume.unset {\"k\":\"_sm_config_x\",\"key\":\"k\",\"sr\":\"plug-sr\",\"dbg\":\"d\"}",
                "Volume.unset {\"k\":\"tagst\",\"key\":\"k\",\"sr\":\"plug-sr\",\"dbg\":\"d\"}"), runs());
    }

    @Test
    void resizeReportsTheStatSizeAndChangedBlocksOnlyTheBitmap() throws Exception {
        volumes("{\"k\":" + volume("k", "[]", "{}") + "}");
        assertEquals(4096, v2.ok("VDI.resize", "dbg", "d", "sr", "sr1", "vdi", "k", "new_size", 10L).asLong());
        assertEquals("Volume.resize {\"new_size\":10,\"key\":\"k\",\"sr\":\"plug-sr\",\"dbg\":\"d\"}", runs().get(0));
        PluginRoot.fakePrinting(dir, "Volume.list_changed_blocks", "{\"granularity\":65536,\"bitmap\":\"AAE=\"}");
        assertEquals("AAE=", v2.ok("VDI.list_changed_blocks", "dbg", "d", "sr", "sr1", "vdi_from", "a",
                "vdi_tp", "b").asText());
        assertEquals(List.of("Volume.list_changed_blocks {\"length\":-1,\"offset\":0,\"key2\":\"b\",\"key\":\"a\","
                + "\"sr\":\"plug-sr\",\"dbg\":\"d\"}"), runs());
    }

    @Test
    void destroyRemovesTheTemporaryCloneFirst() throws Exception {
        volumes("{\"A\":" + volume("A", "[]", "{\"clone-on-boot\":\"C\"}") + "}");
        v2.ok("VDI.destroy", "dbg", "d", "sr", "sr1", "vdi", "A");
        assertEquals(List.of("Volume.stat {\"key\":\"A\",\"sr\":\"plug-sr\",\"dbg\":\"d\"}",
                "Volume.destroy {\"key\":\"C\",\"sr\":\"plug-sr\",\"dbg\":\"d\"}",
                "Volume.destroy {\"key\":\"A\",\"sr\":\"plug-sr\",\"dbg\":\"d\"}"), runs());
    }

    @Test
    void unimplementedCallsRunNothing() throws Exception {
        assertEquals(V2.json("[\"Unimplemented\",\"VDI.attach2\"]"), v2.error("VDI.attach2", "dbg", "d", "dp", "p",
                "sr", "sr1", "vdi", "v", "read_write", true));
        assertEquals(V2.json("[\"Unimplemented\",\"DATA.MIRROR.list\"]"), v2.error("DATA.MIRROR.list", "dbg", "d"));
        assertEquals(V2.json("[]"), v2.ok("VDI.similar_content", "dbg", "d", "sr", "nope", "vdi", "v"));
        assertEquals(List.of(), runs());
    }

    // ------------------------------------------------------------------ datapaths

    @Test
    void datapathRegistrationChecksTheApiVersion() throws Exception {
        datapath("blk", "5.0", "[]");
        datapath("old", "3.0", "[]");
        datapath("future", "4.2", "[]");
        // moved in last and named last: a rescan registers in name order, so once "zzz" is registered the
        // verdict on "future" is in (without it, "future" could be registered after the check below)
        datapath("zzz", "5.0", "[]");
        awaitDatapaths("blk", "old", "zzz");
        List<PluginRoot.Request> reqs = root.newRequests();
        assertTrue(reqs.stream().allMatch(r -> r.script().equals("Plugin.Query") && r.stdin().equals("{\"dbg\":\"register\"}")),
                reqs.toString());
    }

    @Test
    void datapathChoiceAndAttach3() throws Exception {
        datapath("blk", "5.0", "[]");
        datapath("blk2", "5.0", "[]");
        awaitDatapaths("blk", "blk2");
        volumes("{\"A\":" + volume("A", "[\"nope://x\",\"blk:///dev/sda\",\"blk2://y\"]", "{}") + ",\"N\":"
                + volume("N", "[\"nope://x\"]", "{}") + "}");
        root.newRequests();
        JsonNode b = v2.ok("VDI.attach3", "dbg", "d", "dp", "vbd/0/xvda", "sr", "sr1", "vdi", "A", "vm", "0",
                "read_write", true);
        assertEquals(V2.json("{\"implementations\":[[\"XenDisk\",{\"params\":\"p\",\"extra\":{},\"backend_type\":\"vbd3\"}],"
                + "[\"BlockDevice\",{\"path\":\"/dev/sda\"}]]}"), b);
        List<PluginRoot.Request> reqs = root.newRequests();
        assertEquals(root.datapath.resolve("blk/Datapath.attach").toString(), reqs.get(1).argv().get(0));
        assertEquals("{\"domain\":\"u0_vbd_0_xvda\",\"uri\":\"blk:///dev/sda\",\"dbg\":\"d\"}", reqs.get(1).stdin());
        v2.ok("VDI.activate3", "dbg", "d", "dp", "vbd/0/xvda", "sr", "sr1", "vdi", "A", "vm", "0");
        assertEquals("Datapath.activate {\"domain\":\"u0_vbd_0_xvda\",\"uri\":\"blk:///dev/sda\",\"dbg\":\"d\"}",
                runs().get(1));
        // a datapath that holds nothing has nothing to tear down: no script runs (issue 13.7)
        v2.ok("DP.destroy2", "dbg", "d", "dp", "a-b", "sr", "sr1", "vdi", "A", "vm", "0", "allow_leak", false);
        assertEquals(List.of(), runs());
        v2.ok("DP.destroy2", "dbg", "d", "dp", "vbd/0/xvda", "sr", "sr1", "vdi", "A", "vm", "0", "allow_leak", false);
        assertEquals(List.of("Volume.stat {\"key\":\"A\",\"sr\":\"plug-sr\",\"dbg\":\"d\"}",
                "Datapath.deactivate {\"domain\":\"u0_vbd_0_xvda\",\"uri\":\"blk:///dev/sda\",\"dbg\":\"d\"}",
                "Datapath.detach {\"domain\":\"u0_vbd_0_xvda\",\"uri\":\"blk:///dev/sda\",\"dbg\":\"d\"}"), runs());
        // a guest's datapath: the domain is the vm
        v2.ok("VDI.attach3", "dbg", "d", "dp", "vbd/7/xvda", "sr", "sr1", "vdi", "A", "vm", "7", "read_write", false);
        assertEquals("Datapath.attach {\"domain\":\"7\",\"uri\":\"blk:///dev/sda\",\"dbg\":\"d\"}", runs().get(1));
        assertEquals(V2.json("[\"Backend_error\",[\"MISSING_URI\",[\"Please include a URI in the device-config\"]]]"),
                v2.error("VDI.attach3", "dbg", "d", "dp", "x", "sr", "sr1", "vdi", "N", "vm", "0", "read_write", true));
        assertEquals(V2.json("[\"Unimplemented\",\"VDI_MIRROR_IN\"]"),
                v2.error("DATA.import_activate", "dbg", "d", "dp", "x", "sr", "sr1", "vdi", "A", "vm", "0"));
        assertEquals(V2.json("[\"Backend_error\",[\"No nbd server found\",[]]]"),
                v2.error("DATA.get_nbd_server", "dbg", "d", "dp", "x", "sr", "sr1", "vdi", "A", "vm", "0"));
    }

    /** Issue 14.4: a v25.11.0 xapi calls DATA.MIRROR.import_activate/get_nbd_server; its script served them. */
    @Test
    void v25MirrorNamesRunTheSameScriptsAsTheHeadDataCalls() throws Exception {
        datapath("mir", "5.0", "[\"VDI_MIRROR_IN\"]",
                java.util.Map.of("Datapath.import_activate", "\"/run/mir/import.sock\""));
        awaitDatapaths("mir");
        volumes("{\"A\":" + volume("A", "[\"mir:///dev/a\"]", "{}") + "}");
        root.newRequests();
        for (String name : List.of("DATA.import_activate", "DATA.MIRROR.import_activate")) {
            assertEquals(V2.json("\"/run/mir/import.sock\""),
                    v2.ok(name, "dbg", "d", "dp", "x", "sr", "sr1", "vdi", "A", "vm", "3"), name);
            assertEquals(List.of("Volume.stat {\"key\":\"A\",\"sr\":\"plug-sr\",\"dbg\":\"d\"}",
                    "Datapath.import_activate {\"domain\":\"3\",\"uri\":\"mir:///dev/a\",\"dbg\":\"d\"}"), runs(), name);
        }
        for (String name : List.of("DATA.get_nbd_server", "DATA.MIRROR.get_nbd_server")) {
            assertEquals(V2.json("[\"Backend_error\",[\"No nbd server found\",[]]]"),
                    v2.error(name, "dbg", "d", "dp", "x", "sr", "sr1", "vdi", "A", "vm", "3"), name);
            assertEquals("Datapath.attach {\"domain\":\"3\",\"uri\":\"mir:///dev/a\",\"dbg\":\"d\"}", runs().get(1), name);
        }
        // v25.11.0's script answered start/stop Unimplemented, and so does the bridge
        assertEquals(V2.json("[\"Unimplemented\",\"DATA.MIRROR.stop\"]"), v2.error("DATA.MIRROR.stop", "dbg", "d", "id", "m"));
    }

    @Test
    void nonPersistentWithAPluginThatCanDoItItself() throws Exception {
        datapath("blk", "5.0", "[\"NONPERSISTENT\"]");
        awaitDatapaths("blk");
        volumes("{\"A\":" + volume("A", "[\"blk://a\"]", "{}") + "}");
        root.newRequests();
        v2.ok("VDI.epoch_begin", "dbg", "d", "sr", "sr1", "vdi", "A", "vm", "1", "persistent", false);
        assertEquals(List.of("Volume.stat {\"key\":\"A\",\"sr\":\"plug-sr\",\"dbg\":\"d\"}",
                "Datapath.open {\"persistent\":false,\"uri\":\"blk://a\",\"dbg\":\"d\"}"), runs());
        v2.ok("VDI.epoch_end", "dbg", "d", "sr", "sr1", "vdi", "A", "vm", "1");
        assertEquals(List.of("Volume.stat {\"key\":\"A\",\"sr\":\"plug-sr\",\"dbg\":\"d\"}",
                "Datapath.close {\"uri\":\"blk://a\",\"dbg\":\"d\"}"), runs());
    }

    @Test
    void nonPersistentByCloneOnBoot() throws Exception {
        datapath("blk", "5.0", "[]");
        awaitDatapaths("blk");
        volumes("{\"A\":" + volume("A", "[\"blk://a\"]", "{}") + ",\"clone-of-A\":" + volume("C", "[\"blk://c\"]", "{}")
                + "}");
        root.newRequests();
        v2.ok("VDI.epoch_begin", "dbg", "d", "sr", "sr1", "vdi", "A", "vm", "1", "persistent", true);
        assertEquals(List.of("Volume.stat {\"key\":\"A\",\"sr\":\"plug-sr\",\"dbg\":\"d\"}"), runs());
        v2.ok("VDI.epoch_begin", "dbg", "d", "sr", "sr1", "vdi", "A", "vm", "1", "persistent", false);
        assertEquals(List.of("Volume.stat {\"key\":\"A\",\"sr\":\"plug-sr\",\"dbg\":\"d\"}",
                "Volume.clone {\"key\":\"A\",\"sr\":\"plug-sr\",\"dbg\":\"d\"}",
                "Volume.set {\"v\":\"C\",\"k\":\"clone-on-boot\",\"key\":\"A\",\"sr\":\"plug-sr\",\"dbg\":\"d\"}"), runs());
    }

    // ------------------------------------------------------------------ legacy 3.0 plugins

    @Test
    void legacyPluginCompatibility() throws Exception {
        PluginRoot.fakePrinting(dir, "Plugin.Query", "{\"plugin\":\"pvs\",\"name\":\"n\",\"description\":\"d\","
                + "\"vendor\":\"v\",\"copyright\":\"c\",\"version\":\"1\",\"required_api_version\":\"3.0\","
                + "\"features\":[],\"configuration\":{},\"required_cluster_stack\":[]}");
        v2.ok("Query.query", "dbg", "d");
        root.newRequests();
        v2.ok("SR.attach", "dbg", "d", "sr", "sr2", "device_config", V2.map("uri", "u"));
        assertEquals("SR.attach {\"uri\":\"u\",\"configuration\":{\"uri\":\"u\"},\"dbg\":\"d\"}", runs().get(0));
        assertEquals(V2.json("[\"Backend_error\",[\"MISSING_URI\",[\"Please include a URI in the device-config\"]]]"),
                v2.error("SR.attach", "dbg", "d", "sr", "sr3", "device_config", V2.map()));
        assertEquals(List.of(), runs());
        // a 3.0 volume has no sharable member; a missing Volume.set is a no-op
        volumes("{\"created\":" + volume("k1", "[]", "{}").replace("\"sharable\":false,", "") + "}");
        Files.delete(dir.resolve("Volume.set"));
        JsonNode r = v2.ok("VDI.create", "dbg", "d", "sr", "sr1", "vdi_info",
                V2.json("{\"vdi\":\"\",\"name_label\":\"L\",\"ty\":\"user\"}"));
        assertFalse(r.get("sharable").asBoolean());
        assertEquals("user", r.get("ty").asText());
    }

    // ------------------------------------------------------------------ DATA and concurrency

    @Test
    void dataMirrorAndStatPassThrough() throws Exception {
        datapath("blk", "5.0", "[]", java.util.Map.of("Data.mirror", "[\"MirrorV1\",\"m1\"]",
                "Data.stat", "{\"failed\":false,\"complete\":true,\"progress\":0.5}"));
        awaitDatapaths("blk");
        volumes("{\"A\":" + volume("A", "[\"blk://a\"]", "{}") + "}");
        root.newRequests();
        JsonNode op = v2.ok("DATA.mirror", "dbg", "d", "sr", "sr1", "vdi", "A", "image_format", "vhd", "vm", "5",
                "url", "http://remote");
        assertEquals(V2.json("[\"MirrorV1\",\"m1\"]"), op);
        assertEquals("Data.mirror {\"remote\":\"http://remote\",\"domain\":\"5\",\"uri\":\"blk://a\",\"dbg\":\"d\"}",
                runs().get(1));
        JsonNode st = v2.ok("DATA.stat", "dbg", "d", "sr", "sr1", "vdi", "A", "vm", "5", "operation", op);
        assertEquals(V2.json("{\"failed\":false,\"complete\":true,\"progress\":0.5}"), st);
        assertEquals("Data.stat {\"operation\":[\"MirrorV1\",\"m1\"],\"dbg\":\"d\"}", runs().get(1));
    }

    @Test
    void requestsOnOneQueueRunConcurrently() throws Exception {
        // each script waits until the other one has started: serialised requests could never both succeed
        Path running = Files.createDirectories(tmp.resolve("running"));
        PluginRoot.fake(dir, "Volume.stat", "d = " + PluginRoot.pyString(running.toString()) + "\n"
                + "open(os.path.join(d, args['key']), 'w').close()\n"
                + "deadline = time.time() + " + Soon.seconds() + "\n"
                + "while len(os.listdir(d)) < 2 and time.time() < deadline:\n"
                + "    time.sleep(0.02)\n"
                + "if len(os.listdir(d)) < 2:\n"
                + "    sys.exit(9)\n"
                + "print(" + PluginRoot.pyString(volume("K", "[]", "{}")) + ")");
        java.util.concurrent.CompletableFuture<JsonNode> first =
                java.util.concurrent.CompletableFuture.supplyAsync(() -> v2.ok("VDI.stat", "dbg", "d", "sr", "sr1", "vdi", "x"));
        JsonNode second = v2.ok("VDI.stat", "dbg", "d", "sr", "sr1", "vdi", "y");
        assertEquals("K", second.get("vdi").asText());
        assertEquals("K", Soon.get(first).get("vdi").asText());
    }
}
