package org.xenstorage.smctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.xenstorage.idl.rpc.JsonRpc;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.messageswitch.client.SwitchException;

/**
 * smctl end to end minus the switch: command line → request on the wire → a working in-memory storage
 * service on the mux queue → reply → output and exit status.
 */
class SmctlInProcessTest {
    private static final String MUX = "org.xen.xapi.storage";
    private TinyStorage storage;
    private TinyStorage ext;
    private SwitchLink.Connector connector;

    @BeforeEach
    void setUp() {
        storage = new TinyStorage(MUX);
        ext = new TinyStorage(MUX);
        connector = (address, timeout) -> new InProcessLink(Map.of(MUX, storage, MUX + ".ext", ext));
    }

    private SmctlRun smctl(String... args) {
        return SmctlRun.run(connector, false, args);
    }

    private JsonNode lastParams() throws Exception {
        List<String> seen = storage.received();
        return JsonRpc.parseCall(seen.get(seen.size() - 1)).params().get(0);
    }

    private void createAttachedSr(String sr) {
        SmctlRun create = smctl("sr-create", "--type", "ext", "--sr", sr, "--name-label", "Local",
                "--device-config", "path=/srv/" + sr, "--physical-size", "100G");
        assertEquals(0, create.status(), create.toString());
        SmctlRun attach = smctl("sr-attach", "--sr", sr, "--device-config", "path=/srv/" + sr);
        assertEquals(0, attach.status(), attach.toString());
    }

    @Test
    void srCreateWithTypeRegistersThenCreatesWithTypedParameters() throws Exception {
        SmctlRun r = smctl("--dbg", "op-1", "sr-create", "--type", "ext", "--sr", "sr1", "--name-label", "Local",
                "--device-config", "path=/srv/sr1", "--device-config", "mode=fast", "--physical-size", "10G");
        assertEquals(0, r.status(), r.toString());
        // the returned device_config printed as key: value lines
        assertEquals("path: /srv/sr1\nmode: fast\n", r.out());
        JsonNode p = lastParams();
        assertEquals("op-1", p.get("dbg").asText());
        assertEquals(10L << 30, p.get("physical_size").asLong());
        assertEquals("fast", p.get("device_config").get("mode").asText());
        assertEquals("", p.get("name_description").asText());
        assertTrue(storage.received().get(0).contains("\"method\":\"Registry.register\""));

        SmctlRun reg = smctl("sr-registry");
        assertEquals(0, reg.status(), reg.toString());
        assertTrue(reg.out().startsWith("SR   SR_TYPE  QUEUE\nsr1  ext      org.xen.xapi.storage.ext"), reg.out());
    }

    @Test
    void failedCreateUndoesTheRegistration() {
        SmctlRun r = smctl("sr-create", "--type", "ext", "--sr", "sr9", "--name-label", "x", "--physical-size", "0");
        assertEquals(ExitStatus.STORAGE_ERROR, r.status(), r.toString());
        assertEquals("error: Missing_configuration_parameter: path\n", r.err());
        SmctlRun reg = smctl("--json", "sr-registry");
        assertEquals("{}\n", reg.out());
    }

    @Test
    void vdiCreateAttachActivateSessionInHumanAndJson() throws Exception {
        createAttachedSr("sr1");
        SmctlRun created = smctl("vdi-create", "--sr", "sr1", "--vdi-info", "name_label=disk0", "--vdi-info",
                "virtual_size=1000000");
        assertEquals(0, created.status(), created.toString());
        assertTrue(created.out().contains("vdi: vdi-1\n"), created.out());
        assertTrue(created.out().contains("name_label: disk0\n"), created.out());
        // rounded up by the backend, and shown with a readable size
        assertTrue(created.out().contains("virtual_size: 1003520 (980 KiB)\n"), created.out());
        assertTrue(created.out().contains("sm_config: {}\n"), created.out());

        SmctlRun json = smctl("vdi-stat", "--sr", "sr1", "--vdi", "vdi-1", "--json");
        assertEquals(0, json.status(), json.toString());
        JsonNode info = Json.parse(json.out());
        assertEquals("disk0", info.get("name_label").asText());
        assertEquals(1003520, info.get("virtual_size").asLong());

        SmctlRun attach = smctl("vdi-attach3", "--dp", "dp1", "--sr", "sr1", "--vdi", "vdi-1", "--vm", "0",
                "--read-write");
        assertEquals(0, attach.status(), attach.toString());
        assertEquals("implementations:\n  - File:\n      path: /srv/sr1/vdi-1.img\n", attach.out());
        assertTrue(lastParams().get("read_write").asBoolean());

        SmctlRun activate = smctl("vdi-activate3", "--dp", "dp1", "--sr", "sr1", "--vdi", "vdi-1", "--vm", "0");
        assertEquals(0, activate.status(), activate.toString());
        assertEquals("", activate.out(), "unit results print nothing");
        assertEquals("null\n", smctl("--json", "vdi-activate3", "--dp", "dp1", "--sr", "sr1", "--vdi", "vdi-1",
                "--vm", "0").out());

        SmctlRun scan = smctl("sr-scan", "--sr", "sr1");
        assertEquals(0, scan.status(), scan.toString());
        assertTrue(scan.out().startsWith("VDI    UUID        NAME_LABEL  VIRTUAL_SIZE  PHYSICAL_UTILISATION  TY    READ_ONLY\n"
                + "vdi-1  uuid-vdi-1  disk0       980 KiB       0 B                   user  false"), scan.out());
    }

    @Test
    void storageErrorsPrintTheirTagAndExitOne() {
        SmctlRun r = smctl("vdi-stat", "--sr", "nowhere", "--vdi", "v");
        assertEquals(ExitStatus.STORAGE_ERROR, r.status());
        assertEquals("error: Sr_not_attached: nowhere\n", r.err());
        assertEquals("", r.out());

        SmctlRun unimplemented = smctl("sr-probe", "--queue", "q");
        assertEquals(ExitStatus.STORAGE_ERROR, unimplemented.status());
        assertEquals("error: Unimplemented: SR.probe\n", unimplemented.err());

        SmctlRun unknownType = smctl("sr-register", "--sr", "s", "--type", "nfs");
        assertEquals(ExitStatus.STORAGE_ERROR, unknownType.status());
        assertEquals("error: Backend_error: SR_UNKNOWN_DRIVER [\"nfs\"]\n", unknownType.err());
    }

    @Test
    void srProbeWithTypeGoesToTheBackendQueueAsXapiSendsIt() throws Exception {
        SmctlRun r = smctl("--dbg", "p-1", "sr-probe", "--type", "EXT", "--device-config", "path=/srv/x");
        assertEquals(ExitStatus.STORAGE_ERROR, r.status(), r.toString()); // this test backend does not probe
        assertEquals(1, ext.received().size(), "sent to " + MUX + ".ext, not the mux: " + storage.received());
        assertTrue(storage.received().isEmpty(), storage.received().toString());
        JsonNode call = Json.parse(ext.received().get(0));
        assertEquals("SR.probe", call.get("method").asText());
        JsonNode p = call.get("params").get(0);
        assertEquals(MUX + ".ext", p.get("queue").asText(), "the queue argument is the queue, as xapi passes it");
        assertEquals("/srv/x", p.at("/device_config/path").asText());
        assertEquals("p-1", p.get("dbg").asText());

        smctl("sr-probe", "--type", "ext", "--queue", "mine");
        assertEquals("mine", JsonRpc.parseCall(ext.received().get(1)).params().get(0).get("queue").asText());

        SmctlRun unknown = smctl("sr-probe", "--type", "nfs");
        assertEquals(ExitStatus.STORAGE_ERROR, unknown.status());
        assertEquals("error: Backend_error: SR_UNKNOWN_DRIVER [\"nfs\"]\n", unknown.err());
        SmctlRun neither = smctl("sr-probe");
        assertEquals(ExitStatus.USAGE, neither.status(), neither.toString());
        assertTrue(neither.err().contains("--queue"), neither.err());
        assertEquals(2, ext.received().size());
        assertTrue(storage.received().isEmpty(), storage.received().toString());
    }

    @Test
    void usageErrorsExitTwoBeforeAnythingIsSent() {
        SmctlRun missing = smctl("vdi-stat", "--sr", "sr1");
        assertEquals(ExitStatus.USAGE, missing.status());
        assertTrue(missing.err().contains("Missing required option: '--vdi=<vdi>'"), missing.err());
        assertTrue(missing.err().contains("see: smctl help vdi-stat"), missing.err());

        SmctlRun badJson = smctl("vdi-create", "--sr", "sr1", "--vdi-info", "{\"name_label\":");
        assertEquals(ExitStatus.USAGE, badJson.status());
        assertTrue(badJson.err().startsWith("error: --vdi-info: invalid JSON"), badJson.err());

        SmctlRun badInt = smctl("vdi-resize", "--sr", "s", "--vdi", "v", "--new-size", "big");
        assertEquals(ExitStatus.USAGE, badInt.status());
        assertTrue(badInt.err().contains("--new-size: expected an integer"), badInt.err());

        SmctlRun unknown = smctl("vdi-explode");
        assertEquals(ExitStatus.USAGE, unknown.status());
        assertTrue(unknown.err().contains("vdi-explode"), unknown.err());

        assertEquals(ExitStatus.USAGE, smctl().status());
        assertEquals(ExitStatus.USAGE, smctl("--timeout", "soon", "sr-list").status());
        assertTrue(storage.received().isEmpty(), "nothing reached the daemon");
    }

    @Test
    void noDaemonOnTheQueueExitsThree() {
        SmctlRun r = smctl("--queue-prefix", "org.example.nobody", "sr-list");
        assertEquals(ExitStatus.UNREACHABLE, r.status());
        assertTrue(r.err().startsWith("error: nobody serves queue org.example.nobody on the message-switch at unix:"),
                r.err());
    }

    @Test
    void switchThatCannotBeReachedExitsThree() {
        SwitchLink.Connector refusing = (address, timeout) -> {
            throw new SwitchException(SwitchException.Kind.DISCONNECTED, null, "connection refused");
        };
        SmctlRun r = SmctlRun.run(refusing, false, "--switch", "tcp:127.0.0.1:9", "sr-list");
        assertEquals(ExitStatus.UNREACHABLE, r.status());
        assertEquals("error: cannot reach the message-switch at tcp:127.0.0.1:9: connection refused "
                + "(is the daemon running? see --switch-path / --switch)\n", r.err());
    }

    @Test
    void vdiCopyFollowsTheTaskWithProgressLinesThenResultAndThroughput() {
        createAttachedSr("sr1");
        createAttachedSr("sr2");
        assertEquals(0, smctl("vdi-create", "--sr", "sr1", "--vdi-info",
                "{\"vdi\":\"\",\"name_label\":\"disk0\",\"virtual_size\":4194304}").status());
        SmctlRun copy = smctl("vdi-copy", "--sr", "sr1", "--vdi", "vdi-1", "--dest", "sr2");
        assertEquals(0, copy.status(), copy.toString());
        assertTrue(copy.err().contains("progress: 0%\nprogress: 25%\nprogress: 50%\nprogress: 75%\nprogress: 100%\n"),
                copy.err());
        // 4 MiB in the task's 2 s
        assertTrue(copy.err().contains("task 0: completed in 2 s, 4 MiB at 2 MiB/s"), copy.err());
        assertTrue(copy.out().contains("vdi: vdi-2\n"), copy.out());
        assertTrue(copy.out().contains("name_label: disk0\n"), copy.out());
        // the task is forgotten once read
        assertEquals("(none)\n", smctl("task-list").out());
    }

    @Test
    void vdiCopySendsTheUrlGivenOnTheCommandLineOrInAFile() throws Exception {
        createAttachedSr("sr1");
        createAttachedSr("sr2");
        assertEquals(0, smctl("vdi-create", "--sr", "sr1", "--vdi-info",
                "{\"vdi\":\"\",\"name_label\":\"disk0\",\"virtual_size\":1024}").status());
        String url = "https://10.0.0.2:8098/services/SM?session_id=peer-token";
        SmctlRun direct = smctl("vdi-copy", "--no-wait", "--sr", "sr1", "--vdi", "vdi-1", "--dest", "sr2", "--url", url,
                "--verify-dest");
        assertEquals(0, direct.status(), direct.toString());
        assertEquals(url, lastParams().get("url").asText());
        assertTrue(lastParams().get("verify_dest").asBoolean());

        java.nio.file.Path file = java.nio.file.Files.createTempFile("peer", ".url");
        try {
            java.nio.file.Files.writeString(file, url + "\n");
            SmctlRun fromFile = smctl("vdi-copy", "--no-wait", "--sr", "sr1", "--vdi", "vdi-1", "--dest", "sr2",
                    "--url-file", file.toString());
            assertEquals(0, fromFile.status(), fromFile.toString());
            assertEquals(url, lastParams().get("url").asText());
            SmctlRun both = smctl("vdi-copy", "--no-wait", "--sr", "sr1", "--vdi", "vdi-1", "--dest", "sr2",
                    "--url", url, "--url-file", file.toString());
            assertEquals(2, both.status(), both.toString());
            assertFalse(both.err().contains("peer-token"), both.err());
        } finally {
            java.nio.file.Files.deleteIfExists(file);
        }
    }

    @Test
    void progressBarWhenStderrIsATerminal() {
        createAttachedSr("sr1");
        createAttachedSr("sr2");
        smctl("vdi-create", "--sr", "sr1", "--vdi-info", "{\"vdi\":\"\",\"name_label\":\"d\",\"virtual_size\":1024}");
        SmctlRun copy = SmctlRun.run(connector, true, "data-copy", "--sr", "sr1", "--vdi", "vdi-1", "--dest", "sr2",
                "--url", "", "--vm", "0", "--wait");
        assertEquals(0, copy.status(), copy.toString());
        assertTrue(copy.err().contains("\r[########----------------------]  25.0%"), copy.err());
        assertTrue(copy.err().contains("\r[##############################] 100.0%"), copy.err());
        assertFalse(copy.err().contains("progress:"), copy.err());
    }

    @Test
    void dataCopyWithoutWaitPrintsTheTaskIdAndTaskStatShowsIt() {
        createAttachedSr("sr1");
        createAttachedSr("sr2");
        smctl("vdi-create", "--sr", "sr1", "--vdi-info", "{\"vdi\":\"\",\"name_label\":\"d\",\"virtual_size\":1024}");
        SmctlRun copy = smctl("data-copy", "--sr", "sr1", "--vdi", "vdi-1", "--dest", "sr2", "--url", "", "--vm", "0");
        assertEquals("0\n", copy.out(), copy.toString());
        SmctlRun stat = smctl("task-stat", "--task", "0");
        assertTrue(stat.out().contains("state: Pending 0%\n"), stat.out());
        assertTrue(stat.out().contains("cancellable: true\n"), stat.out());
    }

    @Test
    void diagnosticsShowsQueuesRegisteredSrsTasksAndDatapaths() {
        createAttachedSr("sr1");
        smctl("vdi-create", "--sr", "sr1", "--vdi-info", "{\"vdi\":\"\",\"name_label\":\"d\",\"virtual_size\":1024}");
        smctl("vdi-attach3", "--dp", "dp7", "--sr", "sr1", "--vdi", "vdi-1", "--vm", "0");
        SmctlRun d = smctl("diagnostics");
        assertEquals(0, d.status(), d.toString());
        String out = d.out();
        assertTrue(out.contains("== queues on unix:"), out);
        assertTrue(out.contains("org.xen.xapi.storage.ext  true"), out);
        assertTrue(out.contains("== registered SRs ==\nSR   SR_TYPE  QUEUE\nsr1  ext      org.xen.xapi.storage.ext"), out);
        assertTrue(out.contains("== datapaths ==\nDP   SR   STATE\ndp7  sr1  vdi-1 attached RO"), out);
        assertTrue(out.contains("== tasks ==\n(none)"), out);

        SmctlRun json = smctl("diagnostics", "--json");
        assertTrue(json.out().startsWith("{\"switch_queues\":[{\"queue\":\"org.xen.xapi.storage\",\"alive\":true}"),
                json.out());
    }

    @Test
    void commonOptionsWorkBeforeAndAfterTheCommand() throws Exception {
        createAttachedSr("sr1");
        SmctlRun before = smctl("--json", "--dbg", "A", "sr-list");
        SmctlRun after = smctl("sr-list", "--json", "--dbg", "B");
        assertEquals("[\"sr1\"]\n", before.out());
        assertEquals(before.out(), after.out());
        assertEquals("B", lastParams().get("dbg").asText());
        assertEquals("sr1\n", smctl("sr-list").out());
    }

    @Test
    void typesListsOnePerLine() {
        assertEquals("ext\nfile\n", smctl("types").out());
    }

    @Test
    void aFailedTaskPrintsItsErrorAndExitsOne() {
        createAttachedSr("sr1");
        createAttachedSr("sr2");
        smctl("vdi-create", "--sr", "sr1", "--vdi-info", "name_label=d", "--vdi-info", "virtual_size=1M");
        smctl("sr-detach", "--sr", "sr2");
        SmctlRun copy = smctl("--progress", "none", "vdi-copy", "--sr", "sr1", "--vdi", "vdi-1", "--dest", "sr2");
        assertEquals(ExitStatus.STORAGE_ERROR, copy.status(), copy.toString());
        assertEquals("task 0: following\nerror: task 0 failed: Sr_not_attached: sr2\n", copy.err());
        assertEquals("", copy.out());
    }

    @Test
    void taskWaitPollsTaskStatWhenTheDaemonHasNoUpdates() {
        TinyStorage old = new TinyStorage(MUX).withoutUpdates();
        SwitchLink.Connector oldDaemon = (address, timeout) -> new InProcessLink(Map.of(MUX, old));
        for (String sr : List.of("sr1", "sr2")) {
            assertEquals(0, SmctlRun.run(oldDaemon, false, "sr-create", "--type", "ext", "--sr", sr, "--name-label", sr,
                    "--device-config", "path=/srv", "--physical-size", "0").status());
            assertEquals(0, SmctlRun.run(oldDaemon, false, "sr-attach", "--sr", sr).status());
        }
        SmctlRun.run(oldDaemon, false, "vdi-create", "--sr", "sr1", "--vdi-info", "name_label=d");
        SmctlRun started = SmctlRun.run(oldDaemon, false, "vdi-copy", "--no-wait", "--sr", "sr1", "--vdi", "vdi-1",
                "--dest", "sr2");
        assertEquals("0\n", started.out(), started.toString());
        SmctlRun wait = SmctlRun.run(oldDaemon, false, "--json", "task-wait", "--task", "0");
        assertEquals(0, wait.status(), wait.toString());
        assertTrue(wait.err().contains("progress: 25%\nprogress: 50%\nprogress: 75%\nprogress: 100%\n"), wait.err());
        JsonNode task;
        try {
            task = Json.parse(wait.out());
        } catch (Exception e) {
            throw new AssertionError(wait.out(), e);
        }
        assertEquals("Completed", task.get("state").get(0).asText());
        assertEquals("vdi-2", task.get("state").get(1).get("result").get(1).get("vdi").asText());
    }
}
