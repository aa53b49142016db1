package org.xenstorage.daemon.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.types.AsyncResult;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.MirrorReceiveResult;
import org.xenstorage.idl.types.TaskInfo;
import org.xenstorage.idl.types.TaskState;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.migrate.mirror.MirrorId;
import org.xenstorage.migrate.remote.NbdExport;
import org.xenstorage.testing.DebianTools;
import org.xenstorage.testing.DebianTools.Tool;
import org.xenstorage.testing.NbdWriter;
import org.xenstorage.testing.Soon;
import org.xenstorage.testing.TwoHosts;

/**
 * Storage motion between two hosts (issue 15): two real daemons, each in a network namespace of its own
 * ({@link TwoHosts}; two loopback addresses where namespaces cannot be made, said in the output), each with its own
 * switch, state and remote endpoint, and two SRs: a localfile (SMAPIv1) one and a simplefile (SMAPIv3) one with
 * {@code datapath=qdisk}. The test drives each daemon through its switch socket; the daemons reach each other only
 * over the veth. Remote DATA.copy of a VDI with holes, and its cancel; a live mirror under a guest writer
 * ({@link NbdWriter}, qemu-io at a fixed rate) up to the switch-over, its cancel, and kill -9 of either daemon
 * mid-mirror with the restarted daemon's reclaim.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SxmTwoHostsIT {
    static final long COPY_SIZE = 32L << 20;
    static final long MIRROR_SIZE = 32L << 20;
    static final int BLOCK = 64 << 10;
    /** The guest's writes a second: a steady, modest pace a mirror must keep up with. */
    static final double RATE = 50;

    @TempDir
    static Path dir;
    static TwoHosts hosts;
    static HostDaemon a;
    static HostDaemon b;
    static final String V1_A = "sr-v1-a-" + UUID.randomUUID();
    static final String V1_B = "sr-v1-b-" + UUID.randomUUID();
    static final String V3_A = "sr-v3-a-" + UUID.randomUUID();
    static final String V3_B = "sr-v3-b-" + UUID.randomUUID();

    @BeforeAll
    static void start() throws Exception {
        DebianTools.requireAll(Tool.NBDCOPY, Tool.QEMU_NBD, Tool.QEMU_STORAGE_DAEMON, Tool.QEMU_IO);
        hosts = TwoHosts.create();
        a = HostDaemon.start(hosts.a(), dir.resolve("a"));
        b = HostDaemon.start(hosts.b(), dir.resolve("b"));
        for (HostDaemon h : List.of(a, b)) {
            String v1 = h == a ? V1_A : V1_B;
            String v3 = h == a ? V3_A : V3_B;
            h.register(v1, "localfile");
            h.register(v3, "simplefile");
            Map<String, String> local = Map.of("location", Files.createDirectories(h.dir.resolve("sr1")).toString());
            h.mux().sr().create("it", v1, "v1", "", local, 0);
            h.mux().sr().attach("it", v1, local);
            Map<String, String> qdisk = Map.of("path", Files.createDirectories(h.dir.resolve("sr3")).toString(),
                    "datapath", "qdisk");
            h.mux().sr().create("it", v3, "v3", "", qdisk, 0);
            h.mux().sr().attach("it", v3, qdisk);
        }
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            for (HostDaemon h : new HostDaemon[] {a, b}) {
                if (h != null) {
                    h.close();
                    // what the daemon started and a failed test left (a qemu-storage-daemon, a qemu-nbd) goes too
                    h.processesUnderHandles().forEach(ProcessHandle::destroyForcibly);
                }
            }
        } finally {
            if (hosts != null) {
                hosts.close();
            }
        }
    }

    // ------------------------------------------------------------------------------------------ DATA.copy

    static Path v1File(HostDaemon h, String vdi) {
        return h.dir.resolve("sr1").resolve(vdi + ".img");
    }

    static Set<String> vdisOn(HostDaemon h, String sr) {
        return h.mux().sr().scan2("it", sr).vdis().stream().map(VdiInfo::vdi).collect(Collectors.toSet());
    }

    static TaskInfo awaitEnd(StorageService s, String task) throws InterruptedException {
        AtomicReference<TaskInfo> last = new AtomicReference<>();
        Soon.await("task " + task + " ends", Soon.times(2), () -> {
            last.set(s.task().stat("it", task));
            return !(last.get().state() instanceof TaskState.Pending);
        });
        return last.get();
    }

    /** Nothing attached to {@code vdis} of {@code sr} on {@code h}, and no copy or mirror datapath at all. */
    static void assertNothingAttached(HostDaemon h, String sr, Set<String> vdis) {
        for (String v : vdis) {
            assertEquals(Map.of(), h.mux().dp().statVdi("it", sr, v).dps(), "datapaths of " + v + " on " + h.host);
        }
        String diagnostics = h.mux().dp().diagnostics();
        assertFalse(diagnostics.contains("copy-") || diagnostics.contains("mirror"), diagnostics);
    }

    static void assertNoHelpersLeft() throws InterruptedException {
        Soon.await("no nbdcopy, qemu-nbd or qemu-storage-daemon left on either host",
                () -> a.processesUnder().isEmpty() && b.processesUnder().isEmpty());
    }

    @Test
    @Order(1)
    void aRemoteCopyOfAVdiWithHolesCrossesTheVethWholeAndKeepsItsHoles() throws Exception {
        VdiInfo src = a.mux().vdi().create("it", V1_A, VdiInfo.defaults("", "holes").withSizes(COPY_SIZE, 0));
        Path srcFile = v1File(a, src.vdi());
        RemoteDataCopyIT.write(srcFile, 0, RemoteDataCopyIT.random(1 << 20, 1));
        RemoteDataCopyIT.write(srcFile, 10L << 20, RemoteDataCopyIT.random(4 << 20, 2));
        RemoteDataCopyIT.write(srcFile, 20L << 20, new byte[1 << 20]); // zeros: allocated on A, never sent
        RemoteDataCopyIT.write(srcFile, COPY_SIZE - (64 << 10), RemoteDataCopyIT.random(64 << 10, 3));
        long data = (1 << 20) + (4 << 20) + (64 << 10);
        Set<String> before = vdisOn(b, V1_B);
        long rxB = hosts.b().rxBytes();

        String task = a.mux().data().copy("it", V1_A, src.vdi(), "0", b.url(), V1_B, false);
        TaskInfo done = awaitEnd(a.mux(), task);

        TaskState.Completed c = assertInstanceOf(TaskState.Completed.class, done.state(), String.valueOf(done));
        VdiInfo snapshot = ((AsyncResult.VdiInfoResult) c.completion().result().orElseThrow()).value();
        Path copy = v1File(b, snapshot.vdi());
        assertEquals(RemoteDataCopyIT.sha256(srcFile), RemoteDataCopyIT.sha256(copy), "bytes equal on B");
        assertTrue(RemoteDataCopyIT.allocated(copy) <= data + (1 << 20), "holes and the zero run stay holes on B: "
                + RemoteDataCopyIT.allocated(copy) + " bytes allocated for " + data + " bytes of data");
        long crossed = hosts.b().rxBytes() - rxB;
        System.out.println("sxm-two-hosts: remote copy of " + data + " data bytes: " + crossed + " bytes into B ("
                + (hosts.isolated() ? "veth" : "lo") + ")");
        assertTrue(crossed >= data, "the data crossed B's interface: " + crossed + " bytes");
        assertEquals(RemoteDataCopyIT.union(before, Set.of(snapshot.vdi())), vdisOn(b, V1_B), "only the snapshot");
        assertNothingAttached(a, V1_A, Set.of(src.vdi()));
        assertNothingAttached(b, V1_B, vdisOn(b, V1_B));
        assertNoHelpersLeft();
        assertFalse(a.output().contains(b.token), "B's token never appears in A's log");
        a.mux().task().destroy("it", task);
    }

    @Test
    @Order(2)
    void cancellingARemoteCopyLeavesNoVdiOnTheOtherHostAndTheSourceKeepsWorking() throws Exception {
        long size = 1L << 30; // fully written, so that the copy is caught running
        VdiInfo src = a.mux().vdi().create("it", V1_A, VdiInfo.defaults("", "big").withSizes(size, 0));
        byte[] block = RemoteDataCopyIT.random(4 << 20, 4);
        try (RandomAccessFile r = new RandomAccessFile(v1File(a, src.vdi()).toFile(), "rw")) {
            for (long at = 0; at < size; at += block.length) {
                r.seek(at);
                r.write(block);
            }
        }
        Set<String> before = vdisOn(b, V1_B);
        String task = a.mux().data().copy("it", V1_A, src.vdi(), "0", b.url(), V1_B, false);
        Soon.await("nbdcopy runs for the copy", () -> a.processesUnder().stream().anyMatch(c -> c.contains("nbdcopy"))
                || !(a.mux().task().stat("it", task).state() instanceof TaskState.Pending));
        a.mux().task().cancel("it", task);
        TaskInfo done = awaitEnd(a.mux(), task);

        TaskState.Failed f = assertInstanceOf(TaskState.Failed.class, done.state(), String.valueOf(done));
        assertEquals("Cancelled", f.error().get(0).asText(), f.error().toString());
        assertEquals(before, vdisOn(b, V1_B), "no VDI left on B");
        assertNothingAttached(a, V1_A, Set.of(src.vdi()));
        assertNothingAttached(b, V1_B, before);
        assertNoHelpersLeft();
        // A keeps working: its SR still makes, attaches and destroys VDIs
        VdiInfo after = a.mux().vdi().create("it", V1_A, VdiInfo.defaults("", "after").withSizes(1 << 20, 0));
        a.mux().vdi().attach3("it", "after", V1_A, after.vdi(), "0", true);
        a.mux().vdi().detach("it", "after", V1_A, after.vdi(), "0");
        a.mux().vdi().destroy("it", V1_A, after.vdi());
        a.mux().vdi().destroy("it", V1_A, src.vdi());
        a.mux().task().destroy("it", task);
    }

    // ------------------------------------------------------------------------------------------ live mirror

    /** A guest disk on A's qdisk SR: created, attached and activated for {@code vm}, some data in it; its export. */
    static String guestDisk(VdiInfo v, String dp, String vm) throws Exception {
        Backend backend = a.mux().vdi().attach3("it", dp, V3_A, v.vdi(), vm, true);
        a.mux().vdi().activate3("it", dp, V3_A, v.vdi(), vm);
        NbdExport e = NbdExport.of(backend).orElseThrow(() -> new AssertionError("no NBD export in " + backend));
        String uri = "nbd+unix:///" + e.exportName() + "?socket=" + e.socket();
        RemoteEndpointIT.run(DebianTools.require(Tool.QEMU_IO).toString(), "-f", "raw", "-c",
                "write -P 0x11 0 4M", "-c", "write -P 0x22 20M 2M", uri);
        return uri;
    }

    static NbdWriter writer(String uri, long seed) throws Exception {
        return NbdWriter.start(DebianTools.require(Tool.QEMU_IO), uri, MIRROR_SIZE, BLOCK, RATE, seed);
    }

    static void awaitMore(NbdWriter w, int n) throws InterruptedException {
        int target = w.writes() + n;
        Soon.await(n + " more guest writes", () -> {
            assertTrue(w.failure() == null, "the guest writer failed: " + w.failure());
            return w.writes() >= target;
        });
    }

    static String v3Sha256(HostDaemon h, String vdi) throws Exception {
        return RemoteDataCopyIT.sha256(h.dir.resolve("sr3").resolve(vdi + ".raw"));
    }

    /** Starts a mirror of {@code v} to B: receive_start3 there, send_start here (answers once ready). */
    static MirrorReceiveResult.Smapiv3 mirror(VdiInfo v, String id, String vm, String mirrorDp) {
        MirrorReceiveResult.Smapiv3 recv = assertInstanceOf(MirrorReceiveResult.Smapiv3Mirror.class,
                b.mux().dataMirror().receiveStart3("it", V3_B, v, id, "raw", List.of(), vm, b.url(), false)).value();
        a.mux().dataMirror().sendStart("it", mirrorDp, "", V3_A, v.vdi(), "raw", vm, id, v, vm, vm, b.url(),
                new MirrorReceiveResult.Smapiv3Mirror(recv), V3_B, false);
        return recv;
    }

    static List<String> qsds(HostDaemon h) {
        return h.processesUnder().stream().filter(c -> c.contains("qemu-storage-daemon")).toList();
    }

    @Test
    @Order(3)
    void aLiveMirrorUnderAGuestWriterLeavesBothVolumesEqual() throws Exception {
        VdiInfo v = a.mux().vdi().create("it", V3_A, VdiInfo.defaults("", "guest").withSizes(MIRROR_SIZE, 0));
        String uri = guestDisk(v, "vbd-1", "guest1");
        String id = MirrorId.of(V3_A, v.vdi());
        long rxB = hosts.b().rxBytes();
        String leaf;
        NbdWriter.Stats stats;
        try (NbdWriter w = writer(uri, 21)) {
            awaitMore(w, 5);
            leaf = mirror(v, id, "guest1", "mirror-dp-1").mirrorVdi().vdi();
            assertFalse(a.mux().dataMirror().hasMirrorFailed("it", id, V3_A));
            awaitMore(w, 25); // the guest goes on writing, now to both hosts
            stats = w.stop();
        }
        System.out.println("sxm-two-hosts: guest writer during the mirror: " + stats + "; "
                + (hosts.b().rxBytes() - rxB) + " bytes into B");
        assertEquals(0, stats.failures(), stats.toString());
        a.mux().dataMirror().preDeactivateHook("it", "vbd-1", V3_A, v.vdi());
        a.mux().vdi().deactivate("it", "vbd-1", V3_A, v.vdi(), "guest1");
        b.mux().dataMirror().receiveFinalize3("it", id, V3_B, b.url(), false);
        a.mux().vdi().detach("it", "vbd-1", V3_A, v.vdi(), "guest1");
        assertFalse(a.mux().dataMirror().list("it").containsKey(id));
        assertFalse(b.mux().dataMirror().list("it").containsKey(id));
        assertNoHelpersLeft();
        assertNotEquals(QdiskHost.zeroSha256(MIRROR_SIZE), v3Sha256(a, v.vdi()), "the guest wrote");
        assertEquals(v3Sha256(a, v.vdi()), v3Sha256(b, leaf), "B's volume equals A's byte for byte");
        assertNothingAttached(a, V3_A, Set.of(v.vdi()));
        assertNothingAttached(b, V3_B, Set.of(leaf));
        b.mux().vdi().destroy("it", V3_B, leaf);
        a.mux().vdi().destroy("it", V3_A, v.vdi());
    }

    @Test
    @Order(4)
    @SuppressWarnings("deprecation")
    void cancellingAMirrorLeavesNothingOnTheDestinationAndTheGuestKeepsWriting() throws Exception {
        VdiInfo v = a.mux().vdi().create("it", V3_A, VdiInfo.defaults("", "guest 2").withSizes(MIRROR_SIZE, 0));
        String uri = guestDisk(v, "vbd-2", "guest2");
        String id = MirrorId.of(V3_A, v.vdi());
        Set<String> before = vdisOn(b, V3_B);
        try (NbdWriter w = writer(uri, 22)) {
            awaitMore(w, 3);
            mirror(v, id, "guest2", "mirror-dp-2");
            assertEquals(before.size() + 1, vdisOn(b, V3_B).size(), "B receives into a VDI");
            assertEquals(1, qsds(b).size(), "B exports it: " + qsds(b));
            awaitMore(w, 5);
            a.mux().dataMirror().stop("it", id);
            assertEquals(before, vdisOn(b, V3_B), "no VDI left on B");
            assertNothingAttached(b, V3_B, before);
            Soon.await("no qemu-storage-daemon left on B", () -> qsds(b).isEmpty());
            assertFalse(b.mux().dataMirror().list("it").containsKey(id));
            assertFalse(a.mux().dataMirror().list("it").containsKey(id));
            awaitMore(w, 10); // A keeps serving its guest
            NbdWriter.Stats stats = w.stop();
            assertEquals(0, stats.failures(), stats.toString());
        }
        unplugAndDestroy(v, "vbd-2", "guest2");
    }

    static void unplugAndDestroy(VdiInfo v, String dp, String vm) throws InterruptedException {
        a.mux().vdi().deactivate("it", dp, V3_A, v.vdi(), vm);
        a.mux().vdi().detach("it", dp, V3_A, v.vdi(), vm);
        Soon.await("A's qemu-storage-daemon stopped", () -> qsds(a).isEmpty());
        assertNothingAttached(a, V3_A, Set.of(v.vdi()));
        a.mux().vdi().destroy("it", V3_A, v.vdi());
    }

    @Test
    @Order(5)
    @SuppressWarnings("deprecation")
    void killingTheDestinationDaemonMidMirrorFailsTheMirrorAndItsRestartReclaimsTheReceive() throws Exception {
        VdiInfo v = a.mux().vdi().create("it", V3_A, VdiInfo.defaults("", "guest 3").withSizes(MIRROR_SIZE, 0));
        String uri = guestDisk(v, "vbd-3", "guest3");
        String id = MirrorId.of(V3_A, v.vdi());
        Set<String> before = vdisOn(b, V3_B);
        try (NbdWriter w = writer(uri, 23)) {
            mirror(v, id, "guest3", "mirror-dp-3");
            awaitMore(w, 3);
            b.kill9();
            long t0 = System.nanoTime();
            Soon.await("A reports the mirror failed", () -> a.mux().dataMirror().hasMirrorFailed("it", id, V3_A));
            System.out.printf("sxm-two-hosts: B killed: A reported the mirror failed after %.1f s%n",
                    (System.nanoTime() - t0) / 1e9);
            assertTrue(a.mux().dataMirror().stat("it", id).failed());
            awaitMore(w, 5); // the guest's writes still succeed on A
            assertEquals(0, w.stop().failures());
        }
        b.restart();
        Soon.await("B's restart reclaimed the receive: no VDI, datapath or qemu-storage-daemon of it",
                () -> vdisOn(b, V3_B).equals(before) && qsds(b).isEmpty()
                        && !b.mux().dataMirror().list("it").containsKey(id));
        assertNothingAttached(b, V3_B, before);
        a.mux().dataMirror().stop("it", id); // B no longer knows the receive: A forgets its send
        assertFalse(a.mux().dataMirror().list("it").containsKey(id));
        unplugAndDestroy(v, "vbd-3", "guest3");
        assertNoHelpersLeft();
    }

    @Test
    @Order(6)
    void killingTheSourceDaemonMidMirrorAndItsRestartReclaimBothHosts() throws Exception {
        VdiInfo v = a.mux().vdi().create("it", V3_A, VdiInfo.defaults("", "guest 4").withSizes(MIRROR_SIZE, 0));
        String uri = guestDisk(v, "vbd-4", "guest4");
        String id = MirrorId.of(V3_A, v.vdi());
        Set<String> before = vdisOn(b, V3_B);
        try (NbdWriter w = writer(uri, 24)) {
            mirror(v, id, "guest4", "mirror-dp-4");
            awaitMore(w, 3);
            a.kill9();
            // the guest's disk is served by A's qemu-storage-daemon, which outlives the daemon (as a VM would)
            awaitMore(w, 5);
            System.out.println("sxm-two-hosts: A killed: B's view of the receive: " + b.mux().dataMirror().stat("it",
                    id));
            a.restart();
            Soon.await("A's restart reclaimed the send and B's receive: no VDI of it on B, no qemu-storage-daemon",
                    () -> vdisOn(b, V3_B).equals(before) && qsds(b).isEmpty()
                            && !a.mux().dataMirror().list("it").containsKey(id)
                            && !b.mux().dataMirror().list("it").containsKey(id));
            assertNothingAttached(b, V3_B, before);
            awaitMore(w, 5); // and the guest still writes
            assertEquals(0, w.stop().failures());
        }
        unplugAndDestroy(v, "vbd-4", "guest4");
        assertNoHelpersLeft();
    }
}
