package org.xenstorage.migrate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.AsyncResult;
import org.xenstorage.idl.types.MirrorInfo;
import org.xenstorage.idl.types.MirrorState;
import org.xenstorage.idl.types.TaskInfo;
import org.xenstorage.idl.types.TaskState;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.migrate.copy.DataExtents;
import org.xenstorage.migrate.copy.Disk;
import org.xenstorage.migrate.copy.SparseCopier;
import org.xenstorage.migrate.mirror.CopyRecord;
import org.xenstorage.migrate.mirror.CopyRecords;
import org.xenstorage.migrate.mirror.MirrorRecords;
import org.xenstorage.migrate.mirror.MirrorSender;
import org.xenstorage.migrate.remote.RemoteDaemons;
import org.xenstorage.migrate.task.TaskTable;
import org.xenstorage.migrate.testsr.FileSrDouble;

/**
 * DATA.copy orchestration against {@link FileSrDouble}, a TEST DOUBLE of a SMAPIv2 backend (pure
 * logic: directories and sparse files). The same behaviour against the real SMAPIv1 driver and SMAPIv3
 * plugins is in {@code DataCopyAcrossBackendsIT}.
 */
class DataServiceWithTestDoubleTest {
    private static final long MIB = 1 << 20;
    private static final String LOCAL = "http://127.0.0.1/services/SM?session_id=OpaqueRef:secret";

    @TempDir
    Path dir;

    private FileSrDouble backend;
    private final ExecutorService taskRunner = Executors.newCachedThreadPool();
    private TaskTable tasks;
    private final List<Double> progress = new CopyOnWriteArrayList<>();
    private final AtomicReference<Runnable> onSignal = new AtomicReference<>(() -> { });
    private CopyRecords records;
    private DataService data;
    private String source;

    @BeforeEach
    void setUp() throws IOException {
        backend = new FileSrDouble(dir.resolve("srs"));
        backend.addSr("a");
        backend.addSr("b");
        tasks = new TaskTable(id -> {
            if (tasks.stat("t", id).state() instanceof TaskState.Pending p) {
                progress.add(p.progress());
            }
            onSignal.get().run();
        }, id -> { }, taskRunner);
        records = CopyRecords.persistedAt(dir.resolve("copies.json"));
        // small blocks so a 16 MiB disk gives many progress steps and cancellation points
        data = new DataService(backend.service(), tasks, records,
                () -> new SparseCopier(64 * 1024, DataExtents.disabled()), DataService::isLoopbackUrl);
        VdiInfo v = backend.service().vdi().create("t", "a",
                VdiInfo.defaults("", "disk").withSizes(16 * MIB, 0));
        backend.service().vdi().setContentId("t", "a", v.vdi(), "content-1");
        source = v.vdi();
        Path f = backend.file("a", source);
        Disk.random(f, 0, (int) MIB, 1);
        Disk.random(f, 9 * MIB, 8192, 2);
        Disk.random(f, 15 * MIB, (int) MIB, 3);
    }

    @AfterEach
    void tearDown() {
        taskRunner.shutdownNow();
    }

    private TaskInfo copyAndWait() throws InterruptedException {
        return Tasks.await(tasks, data.copy("t", "a", source, "vm0", LOCAL, "b", false));
    }

    @Test
    void givenSparseVdi_whenCopied_thenSnapshotOnDestHasSameBytesContentIdAndHoles() throws Exception {
        TaskInfo t = copyAndWait();

        TaskState.Completed done = assertInstanceOf(TaskState.Completed.class, t.state(), t.toString());
        VdiInfo snap = ((AsyncResult.VdiInfoResult) done.completion().result().orElseThrow()).value();
        assertEquals(Disk.sha256(backend.file("a", source), 16 * MIB), Disk.sha256(backend.file("b", snap.vdi()), 16 * MIB));
        assertEquals("content-1", snap.contentId());
        assertEquals("content-1", backend.vdis("b").get(snap.vdi()).contentId());
        assertTrue(Disk.allocated(backend.file("b", snap.vdi())) <= 3 * MIB, "holes preserved");
        assertEquals(List.of(snap.vdi()), List.copyOf(backend.vdis("b").keySet()), "the copied VDI itself is gone");
        assertEquals(java.util.Set.of(), backend.holders("a", source), "source detached");
        assertTrue(records.active().isEmpty());
        assertTrue(progress.size() > 10, "progress reported in steps: " + progress);
        assertTrue(progress.stream().anyMatch(p -> p >= 0.05 && p < 0.5), progress.toString());
        for (int i = 1; i < progress.size(); i++) {
            assertTrue(progress.get(i) >= progress.get(i - 1), "progress never goes back: " + progress);
        }
        List<String> calls = backend.calls();
        assertTrue(calls.contains("VDI.create@b") && calls.contains("VDI.snapshot@b") && calls.contains("VDI.destroy@b"),
                calls.toString());
        long rw = calls.stream().filter(c -> c.equals("VDI.attach3@b")).count();
        assertEquals(1, rw);
    }

    @Test
    void givenSimilarVdiOnDestination_whenCopied_thenItIsClonedAndOnlyDifferencesWritten() throws Exception {
        TaskInfo first = copyAndWait();
        VdiInfo firstSnap = ((AsyncResult.VdiInfoResult) ((TaskState.Completed) first.state()).completion().result()
                .orElseThrow()).value();
        Disk.random(backend.file("a", source), 4 * MIB, 4096, 42); // the source moves on
        backend.clearCalls();

        TaskInfo second = copyAndWait();

        VdiInfo snap = ((AsyncResult.VdiInfoResult) ((TaskState.Completed) second.state()).completion().result()
                .orElseThrow()).value();
        assertNotEquals(firstSnap.vdi(), snap.vdi());
        assertTrue(backend.calls().contains("VDI.clone@b"), backend.calls().toString());
        assertEquals(Disk.sha256(backend.file("a", source), 16 * MIB), Disk.sha256(backend.file("b", snap.vdi()), 16 * MIB));
    }

    @Test
    void givenCancelMidCopy_thenTaskFailsCancelledBothDetachedAndDestinationRemoved() throws Exception {
        CountDownLatch once = new CountDownLatch(1);
        AtomicReference<String> id = new AtomicReference<>();
        AtomicReference<Map<String, MirrorInfo>> duringCopy = new AtomicReference<>();
        onSignal.set(() -> {
            if (!progress.isEmpty() && progress.get(progress.size() - 1) > 0.3 && once.getCount() > 0) {
                once.countDown();
                duringCopy.set(data.list("t"));
                tasks.cancel("t", id.get());
            }
        });
        CountDownLatch gate = new CountDownLatch(1);
        backend.blockOn("VDI.create", gate); // so the id is known before the copy can progress
        id.set(data.copy("t", "a", source, "vm0", LOCAL, "b", false));
        gate.countDown();

        TaskInfo t = Tasks.await(tasks, id.get());

        assertEquals(new StorageError.Cancelled(id.get()), Tasks.error(t));
        double last = progress.get(progress.size() - 1);
        assertTrue(last > 0.3 && last < 0.95, "stopped mid-copy at " + last);
        assertEquals(java.util.Set.of(), backend.holders("a", source));
        assertEquals(Map.of(), backend.vdis("b"), "destination destroyed");
        assertTrue(records.active().isEmpty());
        MirrorInfo m = duringCopy.get().get(CopyRecord.idOf("a", source));
        assertEquals(List.of(MirrorState.Copying), m.state());
        assertEquals(source, m.sourceVdi());
    }

    @Test
    void givenDestinationAttachFails_thenTaskFailsWithTheBackendErrorAndNothingIsLeft() throws Exception {
        StorageError err = new StorageError.BackendError("SR_BACKEND_FAILURE_44",
                List.of("", "There is insufficient space", ""));
        backend.failOn("VDI.attach3@b", err);

        TaskInfo t = copyAndWait();

        assertEquals(err, Tasks.error(t));
        assertEquals(Map.of(), backend.vdis("b"), "destination destroyed");
        assertEquals(java.util.Set.of(), backend.holders("a", source));
        assertTrue(backend.calls().contains("DP.destroy2@b"), "dest dp destroyed even though attach failed");
    }

    @Test
    void givenReSettingTheSourcesContentIdFails_thenTaskFailsWithThatErrorAndTheCopyIsDestroyed() throws Exception {
        StorageError err = new StorageError.BackendError("SR_BACKEND_FAILURE_82", List.of("", "read-only", ""));
        backend.failOn("VDI.set_content_id@a", err);

        TaskInfo t = copyAndWait();

        assertEquals(err, Tasks.error(t), "as upstream's copy_into_vdi: the copy fails");
        assertTrue(backend.calls().contains("VDI.set_content_id@b"), "the destination's id was set first");
        assertEquals(Map.of(), backend.vdis("b"), "the copied VDI is destroyed and no snapshot is taken");
        assertTrue(!backend.calls().contains("VDI.snapshot@b"), backend.calls().toString());
        assertEquals(java.util.Set.of(), backend.holders("a", source));
        assertTrue(records.active().isEmpty());
    }

    @Test
    void givenDestinationCreateFails_thenTaskFailsWithTheBackendError() throws Exception {
        StorageError err = new StorageError.BackendError("SR_BACKEND_FAILURE_78", List.of("", "VDI creation failed", ""));
        backend.failOn("VDI.create@b", err);
        assertEquals(err, Tasks.error(copyAndWait()));
    }

    @Test
    void givenNbdOnlyBackend_thenUnimplementedNamesTheKind() throws Exception {
        backend.offerOnlyNbd();
        StorageError e = Tasks.error(copyAndWait());
        assertTrue(e instanceof StorageError.Unimplemented u && u.what().contains("Nbd"), e.toString());
        assertEquals(java.util.Set.of(), backend.holders("a", source));
        assertEquals(Map.of(), backend.vdis("b"));
    }

    @Test
    void givenRemoteUrl_thenUnimplementedWithoutLeakingTheSession() throws Exception {
        String id = data.copy("t", "a", source, "vm0", "https://10.0.0.2/services/SM?session_id=OpaqueRef:s", "b", true);
        StorageError e = Tasks.error(Tasks.await(tasks, id));
        assertTrue(e instanceof StorageError.Unimplemented u && u.what().contains("another host")
                && !u.what().contains("OpaqueRef"), e.toString());
        assertTrue(backend.calls().stream().noneMatch(c -> c.startsWith("VDI.create@b")));
    }

    @Test
    void givenUnknownVdiOrSr_thenClearErrors() throws Exception {
        assertEquals(new StorageError.VdiDoesNotExist("nope"),
                Tasks.error(Tasks.await(tasks, data.copy("t", "a", "nope", "vm0", LOCAL, "b", false))));
        assertEquals(new StorageError.SrNotAttached("zz"),
                Tasks.error(Tasks.await(tasks, data.copy("t", "a", source, "vm0", LOCAL, "zz", false))));
    }

    @Test
    void mirrorCallsThatNeedAHypervisorAreUnimplementedAndStateCallsAnswer() {
        assertTrue(data.list("t").isEmpty());
        assertEquals(new StorageError.DoesNotExist("mirror", "a/x"),
                assertThrows(StorageException.class, () -> data.stat("t", "a/x")).error());
        // DATA.mirror/stat/import_activate/get_nbd_server belong to the SR's backend (the mux routes them there)
        assertInstanceOf(StorageError.Unimplemented.class, assertThrows(StorageException.class,
                () -> data.mirror("t", "a", "v", "vhd", "vm", "nbd:unix:/x")).error());
        assertInstanceOf(StorageError.Unimplemented.class, assertThrows(StorageException.class,
                () -> data.importActivate("t", "dp", "a", "v", "vm")).error());
        assertInstanceOf(StorageError.Unimplemented.class, assertThrows(StorageException.class,
                () -> data.getNbdServer("t", "dp", "a", "v", "vm")).error());
        // the SMAPIv1 (VHD) receive needs tapdisk
        StorageError.Unimplemented v1 = assertInstanceOf(StorageError.Unimplemented.class, assertThrows(
                StorageException.class, () -> data.receiveStart2("t", "b", VdiInfo.defaults("v", "n"), "a/v",
                        List.of(), "vm")).error());
        assertTrue(v1.what().contains("tapdisk") && v1.what().contains("receive_start3"), v1.what());
        // clean-up and state calls for mirrors that do not exist: nothing to do, as upstream
        data.receiveCancel2("t", "a/v", LOCAL, false);
        data.receiveFinalize3("t", "a/v", "b", LOCAL, false);
        data.preDeactivateHook("t", "dp", "a", "v");
        assertFalse(data.hasMirrorFailed("t", "a/v", "a"));
    }

    @Test
    void receiveStart3IntoAnSrWithoutNbdIsRefusedNamingWhyAndLeavesNothing() {
        StorageError.Unimplemented e = assertInstanceOf(StorageError.Unimplemented.class, assertThrows(
                StorageException.class, () -> data.receiveStart3("t", "b", backend.vdis("a").get(source), "a/" + source,
                        "raw", List.of(), "vm", LOCAL, false)).error());
        assertTrue(e.what().contains("offers File, no NBD export") && e.what().contains("SMAPIv1")
                && e.what().contains("tapdisk"), e.what());
        assertEquals(Map.of(), backend.vdis("b"), "the VDI made for the mirror was destroyed");
        assertTrue(data.list("t").isEmpty());
    }

    @Test
    void receiveStart3RecordsTheReceiveAndFinalizeOrCancelEndsIt() {
        backend.offerOnlyNbd();
        VdiInfo src = backend.vdis("a").get(source);
        String id = "a/" + source;
        var r = assertInstanceOf(org.xenstorage.idl.types.MirrorReceiveResult.Smapiv3Mirror.class,
                data.receiveStart3("t", "b", src, id, "raw", List.of(), "vm7", LOCAL, false)).value();
        String leaf = r.mirrorVdi().vdi();
        assertEquals(leaf, r.nbdExport(), "the export named by the attach's Nbd uri");
        assertEquals(Map.of("base_mirror", id), backend.vdis("b").get(leaf).smConfig());
        assertEquals(java.util.Set.of(r.mirrorDatapath()), backend.holders("b", leaf));
        assertEquals(new MirrorInfo(source, leaf, List.of(MirrorState.Receiving), false), data.stat("t", id));
        assertEquals(List.of(id), List.copyOf(data.list("t").keySet()));
        assertEquals(StorageError.MigrationPreparationFailure.class, assertThrows(StorageException.class,
                () -> data.receiveStart3("t", "b", src, id, "raw", List.of(), "vm7", LOCAL, false)).error().getClass(),
                "a second receive of the same id is refused");

        data.receiveFinalize3("t", id, "b", LOCAL, false);
        assertEquals(Map.of(), backend.vdis("b").get(leaf).smConfig(), "base_mirror removed");
        assertEquals(java.util.Set.of(), backend.holders("b", leaf), "the leaf's datapath destroyed");
        assertTrue(data.list("t").isEmpty());

        var again = assertInstanceOf(org.xenstorage.idl.types.MirrorReceiveResult.Smapiv3Mirror.class,
                data.receiveStart3("t", "b", src, id, "raw", List.of(), "vm7", LOCAL, false)).value();
        data.receiveCancel2("t", id, LOCAL, false);
        assertFalse(backend.vdis("b").containsKey(again.mirrorVdi().vdi()), "a cancelled receive's VDI is destroyed");
        assertTrue(data.list("t").isEmpty());
    }

    @Test
    void aReceiveLeftByACrashedRunIsReclaimed() {
        backend.offerOnlyNbd();
        MirrorRecords persisted = MirrorRecords.persistedAt(dir.resolve("mirrors.json"));
        DataService first = new DataService(backend.service(), tasks, records,
                () -> new SparseCopier(64 * 1024, DataExtents.disabled()), DataService::isLoopbackUrl, persisted,
                RemoteDaemons.over(dir), MirrorSender.Options.defaults());
        var r = assertInstanceOf(org.xenstorage.idl.types.MirrorReceiveResult.Smapiv3Mirror.class,
                first.receiveStart3("t", "b", backend.vdis("a").get(source), "a/" + source, "raw", List.of(), "vm",
                        LOCAL, false)).value();
        DataService second = new DataService(backend.service(), tasks, records,
                () -> new SparseCopier(64 * 1024, DataExtents.disabled()), DataService::isLoopbackUrl,
                MirrorRecords.persistedAt(dir.resolve("mirrors.json")), RemoteDaemons.over(dir),
                MirrorSender.Options.defaults());
        assertEquals(1, second.reclaimStaleMirrors("t"));
        assertFalse(backend.vdis("b").containsKey(r.mirrorVdi().vdi()));
        assertEquals(java.util.Set.of(), backend.holders("b", r.mirrorVdi().vdi()));
        assertEquals(0, MirrorRecords.persistedAt(dir.resolve("mirrors.json")).staleReceives().size());
    }

    /** Issue 14.4/15: xen-api v25.11.0's DATA.MIRROR.start runs a task; stop of an unknown id. */
    @Test
    @SuppressWarnings("deprecation")
    void v25MirrorStartFailsItsTaskWhenTheDestinationIsUnreachableAndStopFindsNoMirror() throws Exception {
        String unreachable = "http://127.0.0.1:1/services/SM?session_id=secret-token";
        TaskInfo t = Tasks.await(tasks, data.start("t", "a", source, "dp", "vm", "vm", unreachable, "b", false));
        StorageError e = Tasks.error(t);
        assertFalse(e.toString().contains("secret-token"), e.toString());
        assertTrue(e.toString().contains("refused the connection"), e.toString());
        assertTrue(data.list("t").isEmpty());
        assertEquals(new StorageError.DoesNotExist("mirror", "a/v"),
                assertThrows(StorageException.class, () -> data.stop("t", "a/v")).error());
    }

    @Test
    void givenCopyLeftByACrashedRun_whenReclaimed_thenDpsAndHalfCopyAreDestroyed() throws Exception {
        VdiInfo half = backend.service().vdi().create("t", "b", VdiInfo.defaults("", "half").withSizes(MIB, 0));
        backend.service().vdi().attach3("t", "dst-dp", "b", half.vdi(), "vm0", true);
        backend.service().vdi().attach3("t", "src-dp", "a", source, "vm0", false);
        records.add(new CopyRecord(CopyRecord.idOf("a", source), "7", "a", source, "src-dp", "dst-dp", "b", half.vdi(),
                LOCAL, "vm0"));

        assertEquals(java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"),
                java.nio.file.Files.getPosixFilePermissions(dir.resolve("copies.json")), "state file is private");
        CopyRecords reloaded = CopyRecords.persistedAt(dir.resolve("copies.json"));
        assertEquals(1, reloaded.stale().size());
        DataService restarted = new DataService(backend.service(), tasks, reloaded,
                () -> new SparseCopier(SparseCopier.DEFAULT_BLOCK, DataExtents.disabled()), DataService::isLoopbackUrl);
        assertEquals(1, restarted.reclaimStaleCopies("t", backend.service()));

        assertEquals(java.util.Set.of(), backend.holders("a", source));
        assertEquals(Optional.empty(), Optional.ofNullable(backend.vdis("b").get(half.vdi())));
        assertTrue(CopyRecords.persistedAt(dir.resolve("copies.json")).stale().isEmpty(), "cleared on disk too");
    }

    @Test
    void loopbackUrls() {
        assertTrue(DataService.isLoopbackUrl(""));
        assertTrue(DataService.isLoopbackUrl("http://127.0.0.1/services/SM"));
        assertTrue(DataService.isLoopbackUrl("https://localhost:443/services/SM?x=1"));
        assertTrue(!DataService.isLoopbackUrl("http://10.1.2.3/services/SM"));
        assertTrue(!DataService.isLoopbackUrl("file:///etc/passwd"));
        assertTrue(!DataService.isLoopbackUrl("::not a url::"));
    }
}
