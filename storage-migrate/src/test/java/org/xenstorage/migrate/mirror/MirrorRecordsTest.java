package org.xenstorage.migrate.mirror;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.idl.types.MirrorInfo;
import org.xenstorage.idl.types.MirrorState;

/** Pure logic of the live mirror's bookkeeping: ids, the stat rules, persistence and what a restart finds. */
class MirrorRecordsTest {
    @TempDir
    Path dir;

    static SendRecord send(String id) {
        MirrorId m = MirrorId.parse(id);
        return new SendRecord(id, m.sr(), m.vdi(), "dp-" + m.vdi(), true, "vm1", "vm1",
                "http://h:1/services/SM?session_id=secret", false, "dsr", "dvdi-" + m.vdi(), "ddp", "exp",
                Optional.empty(), "", false);
    }

    static ReceiveRecord receive(String id) {
        return new ReceiveRecord(id, "dsr", "leaf-" + id.hashCode(), "leafdp", MirrorId.parse(id).vdi(), "vm1");
    }

    @Test
    void idsAreSrSlashVdiAndTheVdiMayHoldSlashes() {
        assertEquals("sr1/vdi1", MirrorId.of("sr1", "vdi1"));
        assertEquals(new MirrorId("sr1", "a/b"), MirrorId.parse("sr1/a/b"));
        for (String bad : List.of("", "novdi", "/vdi", "sr/")) {
            assertThrows(IllegalArgumentException.class, () -> MirrorId.parse(bad), bad);
        }
        assertThrows(IllegalArgumentException.class, () -> MirrorId.of("s/r", "v"));
    }

    @Test
    void statRulesFollowUpstream() {
        String id = "sr/v";
        assertEquals(Optional.empty(), MirrorRecords.info(id, Optional.empty(), Optional.empty(), true, true));
        assertEquals(Optional.of(new MirrorInfo("v", "dvdi-v", List.of(MirrorState.Sending), true)),
                MirrorRecords.info(id, Optional.of(send(id)), Optional.empty(), true, false));
        ReceiveRecord r = receive(id);
        assertEquals(Optional.of(new MirrorInfo("v", r.leafVdi(), List.of(MirrorState.Receiving), false)),
                MirrorRecords.info(id, Optional.empty(), Optional.of(r), true, false),
                "a send's failure does not fail a receive without a send");
        assertEquals(Optional.of(new MirrorInfo("v", r.leafVdi(), List.of(MirrorState.Receiving), true)),
                MirrorRecords.info(id, Optional.empty(), Optional.of(r), false, true), "a receive that lost its sender");
        assertEquals(List.of(MirrorState.Receiving, MirrorState.Sending),
                MirrorRecords.info(id, Optional.of(send(id)), Optional.of(r), false, false).orElseThrow().state(),
                "a mirror to this same host is both");
    }

    @Test
    void recordsArePersistedPrivatelyAndFoundStaleByTheNextRun() throws Exception {
        Path file = dir.resolve("state/mirrors.json");
        MirrorRecords first = MirrorRecords.persistedAt(file);
        first.putSend(send("a/1"));
        first.putSend(send("a/2").withOperation("mirror-x-1").withTunnelDir("/run/t/nbd-1"));
        first.putReceive(receive("b/9"));
        assertTrue(first.removeSend("a/1"));
        assertFalse(first.removeSend("a/1"));
        assertEquals(List.of("a/2", "b/9"), first.ids());
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));

        MirrorRecords second = MirrorRecords.persistedAt(file);
        assertEquals(List.of(), second.ids(), "a new run has no live mirror");
        assertEquals(List.of(send("a/2").withOperation("mirror-x-1").withTunnelDir("/run/t/nbd-1")),
                second.staleSends());
        assertEquals(List.of(receive("b/9")), second.staleReceives());
        second.forgetStale(second.staleSends(), second.staleReceives());
        assertEquals(List.of(), MirrorRecords.persistedAt(file).staleSends());
        assertEquals(List.of(), MirrorRecords.persistedAt(file).staleReceives());
    }

    @Test
    void anUnreadableFileIsTreatedAsEmpty() throws Exception {
        Path file = dir.resolve("mirrors.json");
        Files.writeString(file, "{not json");
        MirrorRecords r = MirrorRecords.persistedAt(file);
        assertEquals(List.of(), r.staleSends());
        r.putReceive(receive("a/b"));
        assertEquals(List.of(receive("a/b")), MirrorRecords.persistedAt(file).staleReceives());
    }

    @Test
    void aSendRecordNeverPrintsItsUrl() {
        SendRecord s = send("a/1").asFailed();
        assertTrue(s.failed());
        assertFalse(s.toString().contains("secret"), s.toString());
    }
}
