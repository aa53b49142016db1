package org.xenstorage.smapiv3;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.testing.DebianTools;
import org.xenstorage.testing.DebianTools.Tool;
import org.xenstorage.testing.Soon;

/**
 * The {@code qdisk} example datapath plugin (issue 15) through the bridge, with real qemu-storage-daemon
 * processes and Debian's NBD tools as independent peers: a simplefile SR created with {@code datapath=qdisk}
 * serves its volumes over NBD while activated, mirrors one live to another volume's export while a writer
 * keeps writing (DATA.mirror / DATA.stat, as xapi drives storage motion), and leaves no daemon and no socket
 * after detach. The tools are required: a machine without them fails here, naming the package.
 */
class QdiskDatapathIT {
    private static final long MIB = 1 << 20;
    private static final long SIZE = 64 * MIB;
    private static final Pattern NBD = Pattern.compile("nbd:unix:([^:]+):exportname=(.+)");

    @TempDir
    Path tmp;
    Path runDir;
    Path srDir;
    PluginRoot root;
    Smapiv3Bridge bridge;
    V2 v2;
    Writer writer;

    @BeforeAll
    static void requireTools() {
        DebianTools.requireAll(Tool.QEMU_STORAGE_DAEMON, Tool.QEMU_IO, Tool.NBDINFO);
    }

    @BeforeEach
    void start() throws Exception {
        root = new PluginRoot(tmp);
        root.copyExamples();
        runDir = tmp.resolve("q"); // short: unix socket paths must fit in 107 bytes
        srDir = tmp.resolve("sr");
        bridge = startBridge(Map.of());
        v2 = new V2(bridge, "simplefile");
        v2.ok("SR.create", "dbg", "t", "sr", "sr", "name_label", "n", "name_description", "d",
                "device_config", V2.map("path", srDir.toString(), "datapath", "qdisk"), "physical_size", 0L);
        v2.ok("SR.attach", "dbg", "t", "sr", "sr", "device_config", V2.map("path", srDir.toString(), "datapath", "qdisk"));
    }

    private Smapiv3Bridge startBridge(Map<String, String> extra) {
        Map<String, String> env = new java.util.HashMap<>(root.environment());
        env.put("QDISK_RUN_DIR", runDir.toString());
        env.put("QDISK_TIMEOUT", Long.toString(Soon.seconds()));
        env.putAll(extra);
        return Smapiv3Bridge.start(root.config(), null, env);
    }

    @AfterEach
    void stop() throws Exception {
        try {
            if (writer != null) {
                writer.stopAndJoin();
            }
        } finally {
            if (bridge != null) {
                bridge.close();
            }
            for (ProcessHandle p : daemons()) { // a failed test must not leave its daemons to the next one
                p.destroyForcibly();
            }
        }
    }

    // ------------------------------------------------------------------ helpers

    private String newVdi() {
        return v2.ok("VDI.create", "dbg", "t", "sr", "sr", "vdi_info", V2.json("{\"vdi\":\"x\","
                + "\"name_label\":\"disk\",\"ty\":\"user\",\"virtual_size\":" + SIZE + "}")).get("vdi").asText();
    }

    private Path fileOf(String vdi) {
        return srDir.resolve(vdi + ".raw");
    }

    private JsonNode attach(String dp, String vdi) {
        return v2.ok("VDI.attach3", "dbg", "t", "dp", dp, "sr", "sr", "vdi", vdi, "vm", "0", "read_write", true);
    }

    private void call(String method, String dp, String vdi) {
        v2.ok(method, "dbg", "t", "dp", dp, "sr", "sr", "vdi", vdi, "vm", "0");
    }

    /** The Nbd implementation of an attach (nbd:unix:SOCKET:exportname=NAME) as an NBD URI for the tools. */
    private static String nbdUri(JsonNode backend) {
        for (JsonNode impl : backend.get("implementations")) {
            if (impl.get(0).asText().equals("Nbd")) {
                Matcher m = NBD.matcher(impl.get(1).get("uri").asText());
                assertTrue(m.matches(), "Nbd uri " + impl);
                return "nbd+unix:///" + m.group(2) + "?socket=" + m.group(1);
            }
        }
        throw new AssertionError("no Nbd implementation in " + backend);
    }

    record Ran(int exit, String output) {
    }

    /** Runs a tool (argv, no shell) to its end; its output (stdout and stderr) through a file, never a full pipe. */
    private Ran run(String... argv) throws Exception {
        Path out = Files.createTempFile(tmp, "out", ".txt");
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(out.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        int exit = Soon.exitOf(p);
        String text = Files.readString(out);
        Files.delete(out);
        return new Ran(exit, text);
    }

    private Ran ok(String... argv) throws Exception {
        Ran r = run(argv);
        assertEquals(0, r.exit(), String.join(" ", argv) + ": " + r.output());
        return r;
    }

    private long nbdSize(String uri) throws Exception {
        return Long.parseLong(ok("nbdinfo", "--size", uri).output().trim());
    }

    /** The qemu-storage-daemon processes of this test (their argv names its run directory). */
    private List<ProcessHandle> daemons() {
        String marker = runDir.toString() + "/";
        return ProcessHandle.allProcesses().filter(p -> {
            try {
                byte[] cmdline = Files.readAllBytes(Path.of("/proc", Long.toString(p.pid()), "cmdline"));
                String text = new String(cmdline, StandardCharsets.UTF_8);
                return text.contains("qemu-storage-daemon") && text.contains(marker);
            } catch (IOException e) {
                return false; // gone meanwhile
            }
        }).toList();
    }

    /** Every file under the run directory (sockets included). */
    private List<Path> runFiles() throws IOException {
        if (!Files.exists(runDir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.walk(runDir)) {
            return s.filter(p -> !p.equals(runDir)).toList();
        }
    }

    private void assertNothingRuns() throws Exception {
        Soon.await("no qemu-storage-daemon left", () -> daemons().isEmpty());
        assertEquals(List.of(), runFiles(), "no socket, pid file, state or lock left");
    }

    private static String sha256(Path file) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    private static byte[] read(Path file, long offset, int length) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
            byte[] b = new byte[length];
            f.seek(offset);
            f.readFully(b);
            return b;
        }
    }

    private static byte[] filled(int length, int value) {
        byte[] b = new byte[length];
        Arrays.fill(b, (byte) value);
        return b;
    }

    /** A datapath plugin script run directly (the Data calls the bridge does not route), JSON in, JSON out. */
    private JsonNode script(String method, String stdin, boolean succeeds) throws Exception {
        Path in = Files.writeString(tmp.resolve("stdin.json"), stdin);
        Path out = Files.createTempFile(tmp, "out", ".json");
        ProcessBuilder pb = new ProcessBuilder(root.datapath.resolve("qdisk").resolve(method).toString(), "--json")
                .redirectInput(in.toFile()).redirectOutput(out.toFile())
                .redirectError(ProcessBuilder.Redirect.DISCARD);
        pb.environment().put("QDISK_RUN_DIR", runDir.toString());
        int exit = Soon.exitOf(pb.start());
        String text = Files.readString(out);
        assertEquals(succeeds ? 0 : 1, exit, method + " printed " + text);
        return Json.parse(text);
    }

    /** qemu-io in a loop: batches of random 64 KiB writes through an NBD export, until stopped. */
    private final class Writer extends Thread {
        private final String uri;
        private final AtomicInteger batches = new AtomicInteger();
        private final AtomicReference<String> failed = new AtomicReference<>();
        private volatile boolean stopping;

        Writer(String uri) {
            super("qemu-io writer");
            this.uri = uri;
        }

        @Override
        public void run() {
            Random random = new Random(15);
            try {
                while (!stopping) {
                    List<String> argv = new ArrayList<>(List.of("qemu-io", "-f", "raw"));
                    for (int i = 0; i < 16; i++) {
                        long offset = random.nextInt((int) (SIZE / (64 * 1024))) * 64L * 1024;
                        argv.addAll(List.of("-c", "write -P " + (1 + random.nextInt(255)) + " " + offset + " 64k"));
                    }
                    argv.add(uri);
                    Ran r = QdiskDatapathIT.this.run(argv.toArray(String[]::new));
                    if (r.exit() != 0) {
                        failed.set(r.output());
                        return;
                    }
                    batches.incrementAndGet();
                }
            } catch (Exception e) {
                failed.set(e.toString());
            }
        }

        int batches() {
            assertEquals(null, failed.get(), "the writer failed");
            return batches.get();
        }

        void stopAndJoin() throws InterruptedException {
            stopping = true;
            join(Soon.millis());
            assertFalse(isAlive(), "the writer stopped");
            assertEquals(null, failed.get(), "the writer failed");
        }
    }

    // ------------------------------------------------------------------ tests

    @Test
    void anActivatedVolumeIsServedOverNbdAndWritesLandInItsFile() throws Exception {
        String vdi = newVdi();
        JsonNode backend = attach("d", vdi);
        String uri = nbdUri(backend);
        assertEquals(1, daemons().size(), "one qemu-storage-daemon for the attached volume");
        assertNotEquals(0, run("nbdinfo", "--size", uri).exit(), "attached, not activated: nothing is served yet");

        call("VDI.activate3", "d", vdi);
        assertEquals(SIZE, nbdSize(uri));
        ok("qemu-io", "-f", "raw", "-c", "write -P 0xab 1M 64k", "-c", "write -P 0xcd 63M 4k", uri);
        JsonNode diagnostics = script("Plugin.diagnostics", "{\"dbg\":\"t\"}", true);
        assertTrue(diagnostics.asText().contains("qemu-storage-daemon version")
                && diagnostics.asText().contains(fileOf(vdi) + ": qemu-storage-daemon pid"), diagnostics.asText());

        call("VDI.deactivate", "d", vdi); // the export goes away and the node is flushed
        assertNotEquals(0, run("nbdinfo", "--size", uri).exit(), "deactivated: nothing is served");
        assertArrayEquals(filled(64 * 1024, 0xab), read(fileOf(vdi), MIB, 64 * 1024));
        assertArrayEquals(filled(4096, 0xcd), read(fileOf(vdi), 63 * MIB, 4096));
        assertArrayEquals(filled(4096, 0), read(fileOf(vdi), 2 * MIB, 4096));

        call("VDI.activate3", "d", vdi); // activated again: served again, writes included
        assertEquals(SIZE, nbdSize(uri));
        call("VDI.deactivate", "d", vdi);
        call("VDI.detach", "d", vdi);
        assertNothingRuns();
    }

    @Test
    void aLiveMirrorWhileAWriterRunsLeavesTheDestinationIdentical() throws Exception {
        String src = newVdi();
        String dst = newVdi();
        String srcUri = nbdUri(attach("src", src));
        call("VDI.activate3", "src", src);
        String dstUri = nbdUri(attach("dst", dst));
        call("VDI.activate3", "dst", dst);
        ok("qemu-io", "-f", "raw", "-c", "write -P 0x11 0 8M", "-c", "write -P 0x22 32M 8M", srcUri);
        writer = new Writer(srcUri);
        writer.start();
        Soon.await("the writer writes", () -> writer.batches() >= 1);

        JsonNode op = v2.ok("DATA.mirror", "dbg", "t", "sr", "sr", "vdi", src, "image_format", "raw", "vm", "0",
                "url", dstUri);
        assertEquals("MirrorV1", op.get(0).asText(), op.toString());
        int atStart = writer.batches();
        AtomicReference<JsonNode> last = new AtomicReference<>();
        Soon.await("DATA.stat says complete", Soon.times(2), () -> {
            JsonNode st = v2.ok("DATA.stat", "dbg", "t", "sr", "sr", "vdi", src, "vm", "0", "operation", op);
            last.set(st);
            assertFalse(st.get("failed").asBoolean(), st.toString());
            return st.get("complete").asBoolean();
        });
        assertTrue(last.get().has("progress"), last.get().toString());
        Soon.await("the writer keeps writing while the mirror runs", () -> writer.batches() >= atStart + 3);
        writer.stopAndJoin();
        writer = null;

        call("VDI.deactivate", "src", src); // ends the ready mirror cleanly: the target holds what the source holds
        JsonNode after = v2.ok("DATA.stat", "dbg", "t", "sr", "sr", "vdi", src, "vm", "0", "operation", op);
        assertTrue(after.get("complete").asBoolean() && !after.get("failed").asBoolean(), after.toString());
        call("VDI.deactivate", "dst", dst);
        Path zeroes = tmp.resolve("zeroes");
        try (RandomAccessFile f = new RandomAccessFile(zeroes.toFile(), "rw")) {
            f.setLength(SIZE);
        }
        assertNotEquals(sha256(zeroes), sha256(fileOf(dst)), "the destination got the data");
        assertEquals(sha256(fileOf(src)), sha256(fileOf(dst)), "source and destination equal byte for byte");

        call("VDI.detach", "src", src);
        call("VDI.detach", "dst", dst);
        assertNothingRuns();
    }

    @Test
    void dataCancelAbandonsAMirrorAndDataDestroyForgetsIt() throws Exception {
        String src = newVdi();
        String dst = newVdi();
        attach("src", src);
        call("VDI.activate3", "src", src);
        String dstUri = nbdUri(attach("dst", dst));
        call("VDI.activate3", "dst", dst);
        JsonNode op = v2.ok("DATA.mirror", "dbg", "t", "sr", "sr", "vdi", src, "image_format", "raw", "vm", "0",
                "url", dstUri);
        String opJson = "{\"operation\":" + op + ",\"dbg\":\"t\"}";
        assertEquals(V2.json("[" + op + "]"), script("Data.ls", "{\"dbg\":\"t\"}", true));
        Soon.await("complete", () -> script("Data.stat", opJson, true).get("complete").asBoolean());
        JsonNode refused = script("Data.destroy", opJson, false);
        assertEquals("OperationInProgress", refused.get("params").get(0).asText(), refused.toString());

        assertTrue(script("Data.cancel", opJson, true).isNull());
        JsonNode st = script("Data.stat", opJson, true);
        assertTrue(st.get("failed").asBoolean() && !st.get("complete").asBoolean(), "cancelled: " + st);
        assertTrue(script("Data.destroy", opJson, true).isNull());
        assertEquals(V2.json("[]"), script("Data.ls", "{\"dbg\":\"t\"}", true));
        assertTrue(script("Data.destroy", opJson, true).isNull(), "destroying a forgotten operation is a no-op");

        for (String[] dv : new String[][] {{"src", src}, {"dst", dst}}) {
            call("VDI.deactivate", dv[0], dv[1]);
            call("VDI.detach", dv[0], dv[1]);
        }
        assertNothingRuns();
    }

    @Test
    void aDestinationKilledMidMirrorIsReportedFailedAndTheSourceStillTearsDown() throws Exception {
        String src = newVdi();
        String dst = newVdi();
        String srcUri = nbdUri(attach("src", src));
        call("VDI.activate3", "src", src);
        String dstUri = nbdUri(attach("dst", dst));
        call("VDI.activate3", "dst", dst);
        JsonNode op = v2.ok("DATA.mirror", "dbg", "t", "sr", "sr", "vdi", src, "image_format", "raw", "vm", "0",
                "url", dstUri);
        Soon.await("complete", () -> v2.ok("DATA.stat", "dbg", "t", "sr", "sr", "vdi", src, "vm", "0", "operation", op)
                .get("complete").asBoolean());
        long dstPid = Long.parseLong(Files.readString(
                Path.of(dstUri.substring(dstUri.indexOf("socket=") + 7)).resolveSibling("qsd.pid")).trim());
        ProcessHandle.of(dstPid).orElseThrow().destroyForcibly(); // kill -9 of the destination's daemon
        // a ready mirror of an idle guest has no I/O to fail: the next guest write reaches the dead target
        ok("qemu-io", "-f", "raw", "-c", "write -P 7 0 64k", srcUri);
        JsonNode st = v2.ok("DATA.stat", "dbg", "t", "sr", "sr", "vdi", src, "vm", "0", "operation", op);
        assertTrue(st.get("failed").asBoolean() && !st.get("complete").asBoolean(), st.toString());
        assertEquals(SIZE, nbdSize(srcUri), "the source keeps serving its guest");
        assertArrayEquals(filled(4096, 7), read(fileOf(src), 0, 4096), "the guest's write was not lost");
        for (String[] dv : new String[][] {{"src", src}, {"dst", dst}}) {
            call("VDI.deactivate", dv[0], dv[1]);
            call("VDI.detach", dv[0], dv[1]);
        }
        assertNothingRuns();
    }

    @Test
    void aQmpFailureIsAClearErrorAndTheVolumeKeepsWorking() throws Exception {
        String vdi = newVdi();
        String uri = nbdUri(attach("d", vdi));
        call("VDI.activate3", "d", vdi);
        String absent = tmp.resolve("absent.sock").toString();
        JsonNode error = v2.error("DATA.mirror", "dbg", "t", "sr", "sr", "vdi", vdi, "image_format", "raw", "vm", "0",
                "url", "nbd+unix:///nothing?socket=" + absent);
        assertEquals("Backend_error_with_backtrace", error.get(0).asText(), error.toString());
        assertEquals("SR_BACKEND_FAILURE", error.get(1).get(0).asText(), error.toString());
        JsonNode params = error.get(1).get(1); // [backtrace, name, message]
        assertEquals("QmpError", params.get(1).asText(), error.toString());
        assertTrue(params.get(2).asText().startsWith("blockdev-add: ") && params.get(2).asText().contains(absent),
                error.toString());
        assertEquals(SIZE, nbdSize(uri), "the volume is still served");
        assertEquals(V2.json("[]"), script("Data.ls", "{\"dbg\":\"t\"}", true), "no mirror was recorded");
        JsonNode unknown = v2.ok("DATA.stat", "dbg", "t", "sr", "sr", "vdi", vdi, "vm", "0", "operation",
                V2.json("[\"MirrorV1\",\"mirror-0000000000000000-1\"]"));
        assertTrue(unknown.get("failed").asBoolean(), "an unknown mirror is not running: " + unknown);
        call("VDI.deactivate", "d", vdi);
        call("VDI.detach", "d", vdi);
        assertNothingRuns();
    }

    @Test
    void aMissingQemuStorageDaemonIsAClearErrorNamingThePackage() throws Exception {
        bridge.close();
        bridge = startBridge(Map.of("QDISK_QEMU_STORAGE_DAEMON", tmp.resolve("none/qemu-storage-daemon").toString()));
        v2 = new V2(bridge, "simplefile");
        String vdi = newVdi();
        JsonNode error = v2.error("VDI.attach3", "dbg", "t", "dp", "d", "sr", "sr", "vdi", vdi, "vm", "0",
                "read_write", true);
        assertEquals("Backend_error_with_backtrace", error.get(0).asText(), error.toString());
        JsonNode params = error.get(1).get(1);
        assertEquals("QemuStorageDaemonMissing", params.get(1).asText(), error.toString());
        assertTrue(params.get(2).asText().contains("install the Debian package qemu-system-common"), error.toString());
        assertNothingRuns();
        JsonNode stat = v2.ok("DP.stat_vdi", "dbg", "t", "sr", "sr", "vdi", vdi, "unit", V2.json("null"));
        assertEquals(V2.json("{}"), stat.get("dps"), "the failed attach holds nothing: " + stat);
    }

    @Test
    void theDatapathKeyIsCheckedAndAnSrWithoutItKeepsFileUris() throws Exception {
        JsonNode bad = v2.error("SR.create", "dbg", "t", "sr", "sr2", "name_label", "n", "name_description", "d",
                "device_config", V2.map("path", tmp.resolve("sr2").toString(), "datapath", "../file"),
                "physical_size", 0L);
        assertTrue(bad.toString().contains("InvalidConfiguration"), bad.toString());
        Path plain = tmp.resolve("sr3");
        v2.ok("SR.create", "dbg", "t", "sr", "sr3", "name_label", "n", "name_description", "d",
                "device_config", V2.map("path", plain.toString()), "physical_size", 0L);
        v2.ok("SR.attach", "dbg", "t", "sr", "sr3", "device_config", V2.map("path", plain.toString()));
        JsonNode other = v2.error("SR.attach", "dbg", "t", "sr", "sr4", "device_config",
                V2.map("path", plain.toString(), "datapath", "qdisk"));
        assertTrue(other.toString().contains("was created with datapath file, not qdisk"), other.toString());
        String vdi = v2.ok("VDI.create", "dbg", "t", "sr", "sr3", "vdi_info", V2.json("{\"vdi\":\"x\","
                + "\"name_label\":\"disk\",\"virtual_size\":4096}")).get("vdi").asText();
        JsonNode backend = v2.ok("VDI.attach3", "dbg", "t", "dp", "d", "sr", "sr3", "vdi", vdi, "vm", "0",
                "read_write", true);
        assertEquals("File", backend.get("implementations").get(0).get(0).asText(), backend.toString());
        v2.ok("VDI.detach", "dbg", "t", "dp", "d", "sr", "sr3", "vdi", vdi, "vm", "0");
        assertTrue(daemons().isEmpty());
    }
}
