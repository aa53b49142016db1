package org.xenstorage.daemon.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.AsyncResult;
import org.xenstorage.idl.types.MirrorInfo;
import org.xenstorage.idl.types.MirrorReceiveResult;
import org.xenstorage.idl.types.MirrorState;
import org.xenstorage.idl.types.TaskInfo;
import org.xenstorage.idl.types.TaskState;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.migrate.mirror.MirrorId;
import org.xenstorage.testing.DebianTools;
import org.xenstorage.testing.DebianTools.Tool;
import org.xenstorage.testing.NbdWriter;
import org.xenstorage.testing.Soon;

/**
 * Live DATA.MIRROR on the SMAPIv3 path between two real daemons on loopback ({@link QdiskHost}: each with its
 * remote endpoint and a simplefile SR whose volumes qemu-storage-daemon serves), while a guest ({@link NbdWriter},
 * qemu-io) keeps writing through the source's NBD export: receive_start3 on B, send_start on A until ready, then
 * the switch-over (pre_deactivate_hook, deactivate, receive_finalize3) leaves B's volume equal to A's byte for byte;
 * v25.11.0's start/stop mid-mirror leaves nothing on B; smctl vdi-mirror --finalize does the same as the first;
 * a kill -9 of A's daemon, then its restart, reclaims the mirror on both hosts; a kill -9 of B's daemon makes A
 * report the mirror failed, and B's restart reclaims its receive.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LiveMirrorIT {
    static final long SIZE = 64L << 20;
    /** The guest's pace: fast enough that writes land in every phase of the mirror. */
    static final double GUEST_WRITES_PER_SECOND = 200;

    @TempDir
    static Path dir;
    static QdiskHost a;
    static QdiskHost b;

    @BeforeAll
    static void start() throws Exception {
        DebianTools.requireAll(Tool.QEMU_STORAGE_DAEMON, Tool.QEMU_IO);
        a = QdiskHost.start("a", dir.resolve("a"));
        b = QdiskHost.start("b", dir.resolve("b"));
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            if (a != null) {
                a.close();
            }
        } finally {
            if (b != null) {
                b.close();
            }
        }
    }

    /** A guest VDI on A, attached and activated for {@code vm} on {@code dp}, with some data: its export URI. */
    static String guestDisk(VdiInfo v, String dp, String vm) throws Exception {
        String uri = a.plug(dp, v.vdi(), vm);
        RemoteEndpointIT.run("qemu-io", "-f", "raw", "-c", "write -P 0x11 0 8M", "-c", "write -P 0x22 40M 4M", uri);
        return uri;
    }

    @Test
    @Order(1)
    void aLiveMirrorUnderAGuestWriterLeavesTheDestinationEqualToTheSource() throws Exception {
        VdiInfo v = a.newVdi("guest disk", SIZE);
        String uri = guestDisk(v, "vbd-1", "guest1");
        String id = MirrorId.of(a.sr, v.vdi());
        String leaf;
        try (NbdWriter writer = NbdWriter.start(DebianTools.require(Tool.QEMU_IO), uri, SIZE, 64 * 1024, GUEST_WRITES_PER_SECOND, 15)) {
            writer.awaitMore(5);

            // destination first, as xapi does: a VDI, attached and activated, exported over NBD
            MirrorReceiveResult.Smapiv3 recv = assertInstanceOf(MirrorReceiveResult.Smapiv3Mirror.class,
                    b.storage.dataMirror().receiveStart3("it", b.sr, a.vdi(v.vdi()).orElseThrow(), id, "raw",
                            List.of(), "guest1", b.url(), false)).value();
            leaf = recv.mirrorVdi().vdi();
            assertEquals(Map.of("base_mirror", id), b.vdi(leaf).orElseThrow().smConfig());
            assertEquals(new MirrorInfo(v.vdi(), leaf, List.of(MirrorState.Receiving), false),
                    b.storage.dataMirror().stat("it", id));

            // the source: answers once the mirror is ready, the guest still writing
            a.storage.dataMirror().sendStart("it", "mirror-dp-1", "", a.sr, v.vdi(), "raw", "guest1", id, v,
                    "guest1", "guest1", b.url(), new MirrorReceiveResult.Smapiv3Mirror(recv), b.sr, false);
            assertEquals(new MirrorInfo(v.vdi(), leaf, List.of(MirrorState.Sending), false),
                    a.storage.dataMirror().stat("it", id));
            assertEquals(List.of(id), List.copyOf(a.storage.dataMirror().list("it").keySet()));
            assertFalse(a.storage.dataMirror().hasMirrorFailed("it", id, a.sr));
            writer.awaitMore(10); // writes go on, now to both sides
            assertEquals(0, writer.stop().failures(), "the guest's writes all succeeded");
        }

        // switch-over: the guest paused, its disk drained and deactivated, the destination finalized
        a.storage.dataMirror().preDeactivateHook("it", "vbd-1", a.sr, v.vdi());
        a.storage.vdi().deactivate("it", "vbd-1", a.sr, v.vdi(), "guest1");
        assertFalse(b.storage.dataMirror().list("it").containsKey(id), "the mux's post-deactivate hook finalized B");
        b.storage.dataMirror().receiveFinalize3("it", id, b.sr, b.url(), false); // xapi's call: nothing left to do
        assertEquals(new StorageError.DoesNotExist("mirror", id), assertThrows(StorageException.class,
                () -> a.storage.dataMirror().stat("it", id)).error());
        assertFalse(b.storage.dataMirror().list("it").containsKey(id));
        assertEquals(Map.of(), b.vdi(leaf).orElseThrow().smConfig(), "base_mirror removed at finalize");
        assertEquals(List.of(), b.qemuStorageDaemons(), "B's leaf datapath is gone");
        assertEquals(List.of(), b.datapaths());

        a.storage.vdi().detach("it", "vbd-1", a.sr, v.vdi(), "guest1");
        Soon.await("A's qemu-storage-daemon stopped", () -> a.qemuStorageDaemons().isEmpty());
        assertEquals(List.of(), a.datapaths(), "the mirror's own datapath on A was destroyed");
        assertNotEquals(QdiskHost.zeroSha256(SIZE), a.sha256(v.vdi()), "the guest wrote");
        assertEquals(a.sha256(v.vdi()), b.sha256(leaf), "B's volume equals A's byte for byte");
        b.storage.vdi().destroy("it", b.sr, leaf);
    }

    @Test
    @Order(2)
    @SuppressWarnings("deprecation")
    void stoppingAMirrorMidWayLeavesNothingOnTheDestinationAndTheGuestKeepsWriting() throws Exception {
        VdiInfo v = a.newVdi("guest disk 2", SIZE);
        String uri = guestDisk(v, "vbd-2", "guest2");
        String id = MirrorId.of(a.sr, v.vdi());
        int vdisOnB = b.storage.sr().scan2("it", b.sr).vdis().size();
        // the mux forwards these two to the SR's plugin: qdisk's NBD server, and no mirror-in by fd (tapdisk's)
        assertEquals(uri.substring(uri.indexOf("socket=") + 7),
                a.storage.data().getNbdServer("it", "vbd-2", a.sr, v.vdi(), "guest2"));
        assertEquals(new StorageError.Unimplemented("VDI_MIRROR_IN"), assertThrows(StorageException.class,
                () -> a.storage.data().importActivate("it", "vbd-2", a.sr, v.vdi(), "guest2")).error());
        try (NbdWriter writer = NbdWriter.start(DebianTools.require(Tool.QEMU_IO), uri, SIZE, 64 * 1024, GUEST_WRITES_PER_SECOND, 16)) {
            writer.awaitMore(3);
            // v25.11.0's source-side call: receive_start3 on B and the send, as a task of A's
            String task = a.storage.dataMirror().start("it", a.sr, v.vdi(), "vbd-2", "guest2", "guest2", b.url(),
                    b.sr, false);
            TaskInfo done = awaitTask(task);
            TaskState.Completed c = assertInstanceOf(TaskState.Completed.class, done.state(), done.toString());
            assertEquals(new AsyncResult.MirrorId(id), c.completion().result().orElseThrow());
            assertEquals(vdisOnB + 1, b.storage.sr().scan2("it", b.sr).vdis().size(), "B received into a VDI");
            assertEquals(1, b.qemuStorageDaemons().size());
            writer.awaitMore(5);

            a.storage.dataMirror().stop("it", id);
            assertEquals(vdisOnB, b.storage.sr().scan2("it", b.sr).vdis().size(), "no VDI left on B");
            assertEquals(List.of(), b.datapaths(), "no datapath left on B");
            Soon.await("no qemu-storage-daemon left on B", () -> b.qemuStorageDaemons().isEmpty());
            assertFalse(b.storage.dataMirror().list("it").containsKey(id));
            assertFalse(a.storage.dataMirror().list("it").containsKey(id));
            writer.awaitMore(10); // A keeps serving its guest

            // the abandoned job does not stand in the way of a new mirror of the same disk
            TaskInfo again = awaitTask(a.storage.dataMirror().start("it", a.sr, v.vdi(), "vbd-2", "guest2", "guest2",
                    b.url(), b.sr, false));
            assertInstanceOf(TaskState.Completed.class, again.state(), again.toString());
            a.storage.dataMirror().stop("it", id);
            Soon.await("no qemu-storage-daemon left on B", () -> b.qemuStorageDaemons().isEmpty());
            assertEquals(vdisOnB, b.storage.sr().scan2("it", b.sr).vdis().size(), "no VDI left on B");
            writer.awaitMore(5);
            assertEquals(0, writer.stop().failures(), "the guest's writes all succeeded");
        }
        a.storage.vdi().deactivate("it", "vbd-2", a.sr, v.vdi(), "guest2");
        a.storage.vdi().detach("it", "vbd-2", a.sr, v.vdi(), "guest2");
        Soon.await("A's qemu-storage-daemon stopped", () -> a.qemuStorageDaemons().isEmpty());
        assertEquals(List.of(), a.datapaths());
    }

    @Test
    @Order(3)
    void smctlVdiMirrorFollowsTheMirrorUntilReadyAndFinalizes() throws Exception {
        VdiInfo v = a.newVdi("guest disk 4", SIZE);
        guestDisk(v, "vbd-4", "guest4"); // the guest is paused: --finalize switches over as soon as it is ready
        int vdisOnB = b.storage.sr().scan2("it", b.sr).vdis().size();
        Path out = dir.resolve("smctl.out");
        Path err = dir.resolve("smctl.err");
        List<String> cmd = new java.util.ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "-cp", DaemonProcess.classpath(), "org.xenstorage.smctl.Smctl",
                "--switch-path", a.daemon.state.resolve("message-switch.sock").toString(),
                "--timeout", String.valueOf(Soon.seconds()), "vdi-mirror", "--sr", a.sr, "--vdi", v.vdi(),
                "--dp", "vbd-4", "--vm", "guest4", "--url", b.url(), "--dest", b.sr, "--finalize"));
        Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        int status = Soon.exitOf(p);
        String said = java.nio.file.Files.readString(err);
        assertEquals(0, status, said);
        assertTrue(said.contains("following") && said.contains("completed in") && said.contains("finalized"), said);
        assertFalse(said.contains(b.daemon.token), "the token is never shown");
        assertTrue(java.nio.file.Files.readString(out).contains("mirror_id: " + MirrorId.of(a.sr, v.vdi())));

        List<VdiInfo> onB = b.storage.sr().scan2("it", b.sr).vdis();
        assertEquals(vdisOnB + 1, onB.size());
        VdiInfo leaf = onB.stream().filter(x -> x.nameLabel().equals("guest disk 4")).findFirst().orElseThrow();
        assertEquals(Map.of(), leaf.smConfig());
        assertEquals(List.of(), b.qemuStorageDaemons());
        a.storage.vdi().detach("it", "vbd-4", a.sr, v.vdi(), "guest4");
        Soon.await("A's qemu-storage-daemon stopped", () -> a.qemuStorageDaemons().isEmpty());
        assertEquals(a.sha256(v.vdi()), b.sha256(leaf.vdi()), "B's volume equals A's byte for byte");
        b.storage.vdi().destroy("it", b.sr, leaf.vdi());
    }

    @Test
    @Order(4)
    void killingTheSourceDaemonMidMirrorThenRestartingItReclaimsTheMirrorOnBothHosts() throws Exception {
        VdiInfo v = a.newVdi("guest disk 5", SIZE);
        String uri = guestDisk(v, "vbd-5", "guest5");
        String id = MirrorId.of(a.sr, v.vdi());
        int vdisOnB = b.storage.sr().scan2("it", b.sr).vdis().size();
        MirrorReceiveResult recv = b.storage.dataMirror().receiveStart3("it", b.sr, v, id, "raw", List.of(),
                "guest5", b.url(), false);
        a.storage.dataMirror().sendStart("it", "mirror-dp-5", "", a.sr, v.vdi(), "raw", "guest5", id, v, "guest5",
                "guest5", b.url(), recv, b.sr, false);
        try (NbdWriter writer = NbdWriter.start(DebianTools.require(Tool.QEMU_IO), uri, SIZE, 64 * 1024, GUEST_WRITES_PER_SECOND, 18)) {
            writer.awaitMore(3);
            a.kill9(); // the guest's qemu-storage-daemon lives on: the guest keeps writing
            writer.awaitMore(3);
            a.restart();
            Soon.await("A's restart reclaimed the send: B's receive is cancelled",
                    () -> b.storage.sr().scan2("it", b.sr).vdis().size() == vdisOnB);
            assertFalse(b.storage.dataMirror().list("it").containsKey(id));
            assertEquals(List.of(), b.datapaths(), "no datapath left on B");
            Soon.await("no qemu-storage-daemon left on B", () -> b.qemuStorageDaemons().isEmpty());
            Soon.await("A's mirror datapath destroyed", () -> a.datapaths().size() == 1);
            assertTrue(a.datapaths().get(0).startsWith("vbd-5:"), a.datapaths().toString());
            assertEquals(Map.of(), a.storage.dataMirror().list("it"));
            writer.awaitMore(5);
            assertEquals(0, writer.stop().failures(), "the guest's writes all succeeded");
        }
        a.storage.vdi().deactivate("it", "vbd-5", a.sr, v.vdi(), "guest5");
        a.storage.vdi().detach("it", "vbd-5", a.sr, v.vdi(), "guest5");
        Soon.await("A's qemu-storage-daemon stopped", () -> a.qemuStorageDaemons().isEmpty());
        assertEquals(List.of(), a.datapaths());
    }

    @Test
    @Order(5)
    void killingTheDestinationDaemonMidMirrorIsReportedAsAFailedMirrorAndItsRestartReclaimsTheReceive()
            throws Exception {
        VdiInfo v = a.newVdi("guest disk 3", SIZE);
        String uri = guestDisk(v, "vbd-3", "guest3");
        String id = MirrorId.of(a.sr, v.vdi());
        int vdisOnB = b.storage.sr().scan2("it", b.sr).vdis().size();
        MirrorReceiveResult recv = b.storage.dataMirror().receiveStart3("it", b.sr, v, id, "raw", List.of(),
                "guest3", b.url(), false);
        a.storage.dataMirror().sendStart("it", "mirror-dp-3", "", a.sr, v.vdi(), "raw", "guest3", id, v, "guest3",
                "guest3", b.url(), recv, b.sr, false);
        try (NbdWriter writer = NbdWriter.start(DebianTools.require(Tool.QEMU_IO), uri, SIZE, 64 * 1024, GUEST_WRITES_PER_SECOND, 17)) {
            writer.awaitMore(3);
            b.kill9();
            // the tunnel's far end is gone: the next guest write fails the mirror job, not the guest
            Soon.await("A reports the mirror failed", () -> a.storage.dataMirror().hasMirrorFailed("it", id, a.sr));
            assertTrue(a.storage.dataMirror().stat("it", id).failed());
            writer.awaitMore(5);
            assertEquals(0, writer.stop().failures(), "the guest's writes all succeeded");
        }
        a.storage.dataMirror().stop("it", id); // B is gone: its receive_cancel2 fails, logged; A forgets the send
        assertFalse(a.storage.dataMirror().list("it").containsKey(id));
        a.storage.vdi().deactivate("it", "vbd-3", a.sr, v.vdi(), "guest3");
        a.storage.vdi().detach("it", "vbd-3", a.sr, v.vdi(), "guest3");
        Soon.await("A's qemu-storage-daemon stopped", () -> a.qemuStorageDaemons().isEmpty());
        assertEquals(List.of(), a.datapaths());

        assertEquals(1, b.qemuStorageDaemons().size(), "B's receiving qemu-storage-daemon outlived B's daemon");
        b.restart();
        Soon.await("B's restart reclaimed the receive", () -> b.storage.sr().scan2("it", b.sr).vdis().size()
                == vdisOnB);
        Soon.await("no qemu-storage-daemon left on B", () -> b.qemuStorageDaemons().isEmpty());
        assertEquals(List.of(), b.datapaths());
        assertEquals(Map.of(), b.storage.dataMirror().list("it"));
    }

    static TaskInfo awaitTask(String task) throws InterruptedException {
        Soon.await("task " + task + " ends", () -> !(a.storage.task().stat("it", task).state()
                instanceof TaskState.Pending));
        return a.storage.task().stat("it", task);
    }
}
