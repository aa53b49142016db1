package org.xenstorage.smapiv1.datapath;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.BlockDeviceInfo;
import org.xenstorage.idl.types.DpState;
import org.xenstorage.idl.types.Implementation;
import org.xenstorage.idl.types.RoRw;
import org.xenstorage.idl.types.XenDiskInfo;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.idl.automaton.Op;

/** Spec 2.6: the state file's format (upstream's, plus our intents), atomic private writes, tolerant load. */
class StateFileTest {
    @TempDir
    Path dir;

    static final Backend BACKEND = new Backend(List.of(
            new Implementation.XenDisk(new XenDiskInfo("/dev/sm/backend/sr/v", Map.of(), "vbd3")),
            new Implementation.BlockDevice(new BlockDeviceInfo("/dev/sm/backend/sr/v"))));

    static HostSnapshot sample() {
        VdiRecord rec = VdiRecord.EMPTY.withAttachInfo(BACKEND)
                .withDp("vbd/0/xvdb", "0", new DpState.Attached(RoRw.RO))
                .withDp("vbd/3/xvda", "3", new DpState.Activated(RoRw.RW))
                .withLeaked("vbd/0/xvdb");
        return new HostSnapshot(Map.of("sr-uuid", Map.of("vdi-loc", rec)),
                List.of(new ErrorEntry("vbd/3/xvda", 1732456789.25, "sr-uuid", "vdi-loc", "boom")),
                List.of());
    }

    @Test
    void upstreamShape() throws Exception {
        JsonNode root = Json.parse(StateFile.encode(sample()));
        JsonNode vdi = root.get("host").get("srs").get("sr-uuid").get("vdis").get("vdi-loc");
        assertEquals("{\"vbd/3/xvda\":\"3\",\"vbd/0/xvdb\":\"0\"}", Json.write(vdi.get("dpv")));
        assertEquals("{\"vbd/3/xvda\":[\"Activated\",\"RW\"],\"vbd/0/xvdb\":[\"Attached\",\"RO\"]}",
                Json.write(vdi.get("dps")));
        assertEquals("[\"vbd/0/xvdb\"]", Json.write(vdi.get("leaked")));
        assertEquals("[\"XenDisk\",{\"backend_type\":\"vbd3\",\"extra\":{},\"params\":\"/dev/sm/backend/sr/v\"}]",
                Json.write(vdi.get("attach_info").get("implementations").get(0)));
        JsonNode e = root.get("errors").get(0);
        assertEquals(1732456789.25, e.get("time").asDouble());
        assertEquals("boom", e.get("error").asText());
        assertFalse(root.has("intents"), "no intents key when idle: upstream's exact shape");
        assertFalse(vdi.has("unconfirmed"));
    }

    @Test
    void roundTripIncludingIntentsAndUnconfirmed() throws Exception {
        HostSnapshot s = sample();
        VdiRecord marked = s.srs().get("sr-uuid").get("vdi-loc").withUnconfirmed(true);
        HostSnapshot withExtras = new HostSnapshot(Map.of("sr-uuid", Map.of("vdi-loc", marked)), s.errors(),
                List.of(new Intent(7, "sr-uuid", "vdi-loc", "vbd/3/xvda", "3", Op.ATTACH_RW),
                        new Intent(8, "sr-uuid", "vdi-loc", "vbd/3/xvda", "3", Op.DEACTIVATE)));
        assertEquals(s, StateFile.decode(StateFile.encode(s)));
        assertEquals(withExtras, StateFile.decode(StateFile.encode(withExtras)));
    }

    @Test
    void readsAnUpstreamFileWithoutDpvOrAttachInfo() throws Exception {
        String upstream = "{\"errors\":[],\"host\":{\"srs\":{\"s\":{\"vdis\":{\"v\":{\"leaked\":[],"
                + "\"dps\":{\"d\":[\"Attached\",\"RW\"]}}}}}}}";
        HostSnapshot s = StateFile.decode(upstream);
        VdiRecord rec = s.srs().get("s").get("v");
        assertEquals(Optional.empty(), rec.attachInfo());
        assertEquals(List.of(new Holder("d", new DpState.Attached(RoRw.RW), "")), rec.holders());
    }

    @Test
    void missingFieldsAreLoadErrors() {
        assertThrows(IOException.class, () -> StateFile.decode("{\"host\":{\"srs\":{}}}"));
        assertThrows(IOException.class, () -> StateFile.decode("{\"errors\":[],\"host\":{\"srs\":{\"s\":{\"vdis\":"
                + "{\"v\":{\"dps\":{}}}}}}}"));
        assertThrows(IOException.class, () -> StateFile.decode(""));
        assertThrows(IOException.class, () -> StateFile.decode("{\"errors\":[],\"host\":{\"srs\":{}}} trailing"));
    }

    @Test
    void writesArePrivateAndAtomic() throws Exception {
        Path file = dir.resolve("a/b/storage.db");
        StateFile.write(file, sample());
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file.getParent())));
        assertEquals(sample(), StateFile.read(file).orElseThrow());
        try (var listing = Files.list(file.getParent())) {
            assertEquals(List.of(file), listing.toList(), "no temporary file left behind");
        }
    }

    @Test
    void corruptOrEmptyFileStartsEmpty() throws Exception {
        Path file = dir.resolve("storage.db");
        for (String junk : List.of("", "{not json", "[1,2]", "{\"errors\":[],\"host\":{\"srs\":{\"s\":1}}}")) {
            Files.writeString(file, junk);
            DatapathTable t = DatapathTable.open(file);
            assertEquals(List.of(), t.srList(), junk);
        }
        assertEquals(List.of(), DatapathTable.open(dir.resolve("absent.db")).srList());
    }

    @Test
    void errorsAreCappedNewestFirst() {
        DatapathTable t = DatapathTable.open(dir.resolve("e.db"));
        for (int i = 0; i < DatapathTable.MAX_ERRORS + 20; i++) {
            t.addError(new ErrorEntry("dp", i, "sr", "v", "e" + i));
        }
        List<ErrorEntry> errors = t.errors();
        assertEquals(DatapathTable.MAX_ERRORS, errors.size());
        assertEquals("e119", errors.get(0).error());
        assertEquals("e20", errors.get(errors.size() - 1).error());
    }

    @Test
    void reloadGivesTheSameState() {
        Path file = dir.resolve("r.db");
        DatapathTable t = DatapathTable.open(file);
        t.addSr("sr-uuid");
        t.put("sr-uuid", "vdi-loc", sample().srs().get("sr-uuid").get("vdi-loc"));
        t.addError(sample().errors().get(0));
        t.persist();
        assertEquals(t.snapshot(), DatapathTable.open(file).snapshot());
    }

    @Test
    void persistSkipsWritesAlreadyCoveredAndWritesEveryChange() {
        DatapathTable t = DatapathTable.open(dir.resolve("w.db"));
        t.addSr("s");
        t.persist();
        long writes = t.writes();
        t.persist();
        assertEquals(writes, t.writes(), "nothing changed since the last write");
        t.addSr("s2");
        t.persist();
        assertEquals(writes + 1, t.writes());
        assertTrue(DatapathTable.open(dir.resolve("w.db")).isAttached("s2"));
    }

    @Test
    void reconcileRecordsTheUpperBoundAndMarksUnconfirmed() throws Exception {
        Path file = dir.resolve("i.db");
        VdiRecord attached = VdiRecord.EMPTY.withAttachInfo(BACKEND).withDp("B", "vm", new DpState.Attached(RoRw.RW));
        HostSnapshot crashed = new HostSnapshot(Map.of("s", Map.of("held", attached)), List.of(), List.of(
                new Intent(1, "s", "fresh", "A", "vm", Op.ATTACH_RO),
                new Intent(2, "s", "held", "B", "vm", Op.DETACH),
                new Intent(3, "gone", "x", "C", "vm", Op.ATTACH_RW)));
        StateFile.write(file, crashed);
        DatapathTable t = DatapathTable.open(file);
        VdiRecord fresh = t.find("s", "fresh").orElseThrow();
        assertEquals(new DpState.Attached(RoRw.RO), fresh.stateOf("A"));
        assertTrue(fresh.unconfirmed());
        assertEquals(Optional.empty(), fresh.attachInfo());
        VdiRecord held = t.find("s", "held").orElseThrow();
        assertEquals(new DpState.Attached(RoRw.RW), held.stateOf("B"), "a detach in doubt keeps the attach");
        assertTrue(held.unconfirmed());
        HostSnapshot onDisk = StateFile.read(file).orElseThrow();
        assertEquals(List.of(), onDisk.intents(), "reconciled intents are cleared on disk");
        assertEquals(t.snapshot(), onDisk);
    }
}
