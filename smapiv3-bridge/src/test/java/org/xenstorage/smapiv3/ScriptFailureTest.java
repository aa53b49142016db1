package org.xenstorage.smapiv3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.testing.Soon;

/**
 * Each way a script can fail maps to the exact SMAPIv2 error of spec 2.1/2.4-2.6, and the bridge keeps
 * serving afterwards (every test ends with a good call on the same queue).
 */
class ScriptFailureTest {
    /**
     * The script timeout the hang test waits out: short, but long enough for a busy machine to start the
     * script and get it into its hang first (it must have written its pid file).
     */
    private static final Duration HANG_TIMEOUT = Soon.timeout().dividedBy(10);

    @TempDir
    Path tmp;
    PluginRoot root;
    Path dir;
    Smapiv3Bridge bridge;
    V2 v2;

    @BeforeEach
    void start() throws Exception {
        root = new PluginRoot(tmp);
        dir = root.volume.resolve("org.xen.xapi.storage.fake");
        PluginRoot.fakePrinting(dir, "SR.attach", "\"plug-sr\"");
        PluginRoot.fakePrinting(dir, "Plugin.diagnostics", "\"still here\"");
        PluginRoot.fakePrinting(dir, "SR.stat", "{\"sr\":\"plug-sr\",\"name\":\"n\",\"description\":\"d\","
                + "\"free_space\":1,\"total_space\":2,\"datasources\":[],\"clustered\":false,\"health\":[\"Healthy\",\"\"]}");
        startBridge(Soon.timeout());
        v2.ok("SR.attach", "dbg", "d", "sr", "sr1", "device_config", V2.map("uri", "x"));
        root.newRequests();
    }

    @AfterEach
    void stop() {
        bridge.close();
    }

    private void startBridge(Duration scriptTimeout) {
        bridge = Smapiv3Bridge.start(root.config().withScriptTimeout(scriptTimeout), null, root.environment());
        v2 = new V2(bridge, "fake");
    }

    private void stillServing() {
        assertEquals("still here", v2.ok("Query.diagnostics", "dbg", "d").asText());
    }

    private static List<String> params(JsonNode error) {
        List<String> out = new java.util.ArrayList<>();
        error.get(1).get(1).forEach(p -> out.add(p.asText()));
        return out;
    }

    @Test
    void missingScript() throws Exception {
        Files.delete(dir.resolve("SR.stat"));
        JsonNode e = v2.error("SR.stat", "dbg", "d", "sr", "sr1");
        assertEquals(V2.json("[\"Backend_error\",[\"SCRIPT_MISSING\",[\"" + dir.resolve("SR.stat")
                + "\",\"Check whether the file exists and has correct permissions\"]]]"), e);
        stillServing();
    }

    @Test
    void directoryInPlaceOfScriptCountsAsMissing() throws Exception {
        Files.delete(dir.resolve("SR.stat"));
        Files.createDirectory(dir.resolve("SR.stat"));
        assertEquals("SCRIPT_MISSING", v2.error("SR.stat", "dbg", "d", "sr", "sr1").get(1).get(0).asText());
        stillServing();
    }

    @Test
    void notExecutableScript() throws Exception {
        Files.setPosixFilePermissions(dir.resolve("SR.stat"), PosixFilePermissions.fromString("rw-r--r--"));
        JsonNode e = v2.error("SR.stat", "dbg", "d", "sr", "sr1");
        assertEquals("Backend_error", e.get(0).asText());
        assertEquals("SCRIPT_NOT_EXECUTABLE", e.get(1).get(0).asText());
        assertEquals(dir.resolve("SR.stat").toString(), params(e).get(0));
        assertEquals(2, params(e).size());
        stillServing();
    }

    /** Issue 13.8: a script symlinked out of the plugin root is never run. Before the fix, it ran. */
    @Test
    void aScriptSymlinkedOutOfThePluginRootIsRefused() throws Exception {
        Path outside = PluginRoot.fakePrinting(Files.createDirectories(tmp.resolve("outside")), "SR.stat",
                "{\"sr\":\"from outside\"}");
        Path inside = Files.move(dir.resolve("SR.stat"), dir.resolve("sr-stat-impl"));
        Files.createSymbolicLink(dir.resolve("SR.stat"), outside);
        JsonNode e = v2.error("SR.stat", "dbg", "d", "sr", "sr1");
        assertEquals("SCRIPT_FAILED", e.get(1).get(0).asText(), e.toString());
        assertEquals(dir.resolve("SR.stat").toString(), params(e).get(0));
        assertTrue(params(e).get(1).startsWith("refused: its real path " + outside.toRealPath()), e.toString());
        assertEquals(List.of(), root.newRequests(), "nothing ran");
        // a symlink that stays inside the root still works
        Files.delete(dir.resolve("SR.stat"));
        Files.createSymbolicLink(dir.resolve("SR.stat"), inside);
        assertEquals("n", v2.ok("SR.stat", "dbg", "d", "sr", "sr1").get("name_label").asText());
        stillServing();
    }

    @Test
    void nonZeroExitWithErrorObjectIsBackendErrorWithBacktrace() throws Exception {
        PluginRoot.fake(dir, "Volume.stat", "print(json.dumps({'code':'SR_BACKEND_FAILURE_79','params':['a','b'],"
                + "'backtrace':{'lines':[1],'files':['f'],'error':'e'}}))\nsys.exit(1)");
        JsonNode e = v2.error("VDI.stat", "dbg", "d", "sr", "sr1", "vdi", "v");
        assertEquals(V2.json("[\"Backend_error_with_backtrace\",[\"SR_BACKEND_FAILURE_79\","
                + "[\"{\\\"error\\\":\\\"e\\\",\\\"files\\\":[\\\"f\\\"],\\\"lines\\\":[1]}\",\"a\",\"b\"]]]"), e);
        stillServing();
    }

    @Test
    void activatedOnAnotherHostIsRecognised() throws Exception {
        PluginRoot.fake(dir, "Volume.stat", "print(json.dumps({'code':'SR_BACKEND_FAILURE',"
                + "'params':['Activated_on_another_host','h1'],'backtrace':{'error':'','files':[],'lines':[]}}))\n"
                + "sys.exit(1)");
        assertEquals(V2.json("[\"Activated_on_another_host\",\"h1\"]"),
                v2.error("VDI.stat", "dbg", "d", "sr", "sr1", "vdi", "v"));
        stillServing();
    }

    @Test
    void nonZeroExitWithoutErrorObject() throws Exception {
        PluginRoot.fake(dir, "SR.stat", "sys.stderr.write('it broke')\nsys.stdout.write('oops')\nsys.exit(3)");
        JsonNode e = v2.error("SR.stat", "dbg", "d", "sr", "sr1");
        // QUIRK fixed: upstream repeats stdout as the 5th param; we give stderr there
        assertEquals(V2.json("[\"Backend_error\",[\"SCRIPT_FAILED\",[\"" + dir.resolve("SR.stat")
                + "\",\"non-zero exit and bad json on stdout\",\"3\",\"oops\",\"it broke\"]]]"), e);
        stillServing();
    }

    @Test
    void errorObjectWithWrongShapeCountsAsBadJson() throws Exception {
        PluginRoot.fake(dir, "SR.stat", "print(json.dumps({'code':'X','params':[1,2],"
                + "'backtrace':{'error':'','files':[],'lines':[]}}))\nsys.exit(1)");
        JsonNode e = v2.error("SR.stat", "dbg", "d", "sr", "sr1");
        assertEquals("SCRIPT_FAILED", e.get(1).get(0).asText());
        assertEquals("non-zero exit and bad json on stdout", params(e).get(1));
        stillServing();
    }

    @Test
    void zeroExitWithNonJsonStdout() throws Exception {
        PluginRoot.fake(dir, "SR.stat", "sys.stdout.write('oops')");
        assertEquals(V2.json("[\"Backend_error\",[\"SCRIPT_FAILED\",[\"" + dir.resolve("SR.stat")
                + "\",\"bad json on stdout\",\"oops\"]]]"), v2.error("SR.stat", "dbg", "d", "sr", "sr1"));
        PluginRoot.fake(dir, "SR.stat", "pass");
        assertEquals(V2.json("[\"Backend_error\",[\"SCRIPT_FAILED\",[\"" + dir.resolve("SR.stat")
                + "\",\"bad json on stdout\",\"\"]]]"), v2.error("SR.stat", "dbg", "d", "sr", "sr1"));
        stillServing();
    }

    @Test
    void zeroExitWithWrongResultType() throws Exception {
        PluginRoot.fakePrinting(dir, "Volume.stat", "{}");
        JsonNode e = v2.error("VDI.stat", "dbg", "d", "sr", "sr1", "vdi", "v");
        assertEquals("SCRIPT_FAILED", e.get(1).get(0).asText());
        assertEquals(1, params(e).size());
        assertTrue(params(e).get(0).startsWith("Unexpected exception:"), params(e).get(0));
        stillServing();
    }

    @Test
    void killedBySignal() throws Exception {
        PluginRoot.fake(dir, "SR.stat", "sys.stdout.write('partial')\nsys.stdout.flush()\n"
                + "os.kill(os.getpid(), signal.SIGKILL)");
        JsonNode e = v2.error("SR.stat", "dbg", "d", "sr", "sr1");
        assertEquals(List.of(dir.resolve("SR.stat").toString(), "signalled", "SIGKILL", "partial", ""), params(e));
        stillServing();
    }

    @Test
    void hungScriptIsKilledAtTheTimeout() throws Exception {
        Path pidFile = tmp.resolve("hung.pid");
        PluginRoot.fake(dir, "SR.stat", "open(" + PluginRoot.pyString(pidFile.toString())
                + ", 'w').write(str(os.getpid()))\ntime.sleep(600)");
        // a bridge whose timeout the hang reaches (the other tests' is Soon's); it reloads sr1 from state.db
        bridge.close();
        startBridge(HANG_TIMEOUT);
        JsonNode e = v2.error("SR.stat", "dbg", "d", "sr", "sr1");
        assertEquals("SCRIPT_FAILED", e.get(1).get(0).asText());
        assertEquals("timed out", params(e).get(1));
        long pid = Long.parseLong(Files.readString(pidFile));
        assertTrue(ProcessHandle.of(pid).map(ph -> !ph.isAlive()).orElse(true), "the hung script was killed");
        stillServing();
    }

    @Test
    void scriptNamesMatchWithoutRegardToCase() throws Exception {
        Files.move(dir.resolve("Plugin.diagnostics"), dir.resolve("PLUGIN.Diagnostics"));
        stillServing();
        List<PluginRoot.Request> runs = root.newRequests();
        assertEquals("PLUGIN.Diagnostics", runs.get(0).script());
        assertEquals(dir.resolve("PLUGIN.Diagnostics").toString(), runs.get(0).argv().get(0));
    }

    @Test
    void invocationConvention() throws Exception {
        v2.ok("SR.stat", "dbg", "d\nwith newline", "sr", "sr1");
        PluginRoot.Request r = root.newRequests().get(0);
        assertEquals(List.of(dir.resolve("SR.stat").toString(), "--json"), r.argv());
        assertEquals("{\"sr\":\"plug-sr\",\"dbg\":\"d\\nwith newline\"}", r.stdin());
        assertTrue(!r.stdin().contains("\n"), "stdin is one line with no trailing newline");
    }
}
