package org.xenstorage.migrate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.xenstorage.exec.ChildProcessRunner;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.AsyncResult;
import org.xenstorage.idl.types.TaskInfo;
import org.xenstorage.idl.types.TaskState;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.migrate.copy.DataExtents;
import org.xenstorage.migrate.copy.Disk;
import org.xenstorage.migrate.copy.SparseCopier;
import org.xenstorage.migrate.mirror.CopyRecords;
import org.xenstorage.migrate.task.TaskTable;
import org.xenstorage.testing.Soon;

/**
 * DATA.copy end to end with the REAL backends: the SMAPIv3 bridge running the example
 * {@code simplefile} volume plugin and {@code file} datapath plugin, and the SMAPIv1 backend running
 * the example {@code LocalfileSR} driver, as real processes on real sparse files. Two SRs of each
 * kind; every direction (v1→v1, v3→v3, v1→v3, v3→v1) is copied.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DataCopyAcrossBackendsIT {
    private static final long MIB = 1 << 20;
    private static final long SIZE = 48 * MIB;
    private static final String LOCAL = "http://127.0.0.1/services/SM";

    @TempDir
    static Path tmp;

    private final ChildProcessRunner runner = new ChildProcessRunner();
    private Backends backends;
    private SrRouter router;
    private final ExecutorService taskRunner = Executors.newCachedThreadPool();
    private TaskTable tasks;
    private final List<Double> progress = new CopyOnWriteArrayList<>();
    private final AtomicReference<Runnable> onSignal = new AtomicReference<>(() -> { });
    private DataService data;

    @BeforeAll
    void start() throws Exception {
        backends = Backends.start(tmp);
        router = new SrRouter();
        for (Backends.Sr sr : backends.srs()) {
            router.register(sr.name(), sr.service());
        }
        tasks = new TaskTable(id -> {
            if (tasks.stat("t", id).state() instanceof TaskState.Pending p) {
                progress.add(p.progress());
            }
            onSignal.get().run();
        }, id -> { }, taskRunner);
        // 256 KiB blocks: many progress steps and cancellation points on a 48 MiB disk
        data = new DataService(router.service(), tasks, CopyRecords.inMemory(),
                () -> new SparseCopier(256 * 1024, DataExtents.withSystemPython(runner)), DataService::isLoopbackUrl);
    }

    @AfterAll
    void stop() {
        taskRunner.shutdownNow();
        if (backends != null) {
            backends.close();
        }
        runner.close();
    }

    static Stream<Arguments> directions() {
        return Stream.of(Arguments.of("v1a", "v1b"), Arguments.of("v3a", "v3b"), Arguments.of("v1a", "v3b"),
                Arguments.of("v3a", "v1b"));
    }

    /** A source VDI with three data runs (one of them explicit zeros) in 48 MiB, and a content id. */
    private VdiInfo sourceOn(Backends.Sr sr) throws Exception {
        VdiInfo v = sr.service().vdi().create("t", sr.name(), VdiInfo.defaults("", "src").withSizes(SIZE, 0));
        sr.withPath(v.vdi(), true, path -> {
            Disk.random(path, 0, (int) MIB, 1);
            Disk.zeros(path, 8 * MIB, (int) MIB);
            Disk.random(path, 20 * MIB + 4096, (int) (2 * MIB), 2);
            Disk.random(path, SIZE - 65536, 65536, 3);
        });
        String cid = "cid-" + UUID.randomUUID();
        sr.service().vdi().setContentId("t", sr.name(), v.vdi(), cid);
        return sr.service().vdi().stat("t", sr.name(), v.vdi());
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @MethodSource("directions")
    void copyIsByteIdenticalSparseCarriesTheContentIdAndLeavesNothingAttached(String from, String to)
            throws Exception {
        Backends.Sr src = backends.sr(from);
        Backends.Sr dst = backends.sr(to);
        VdiInfo source = sourceOn(src);
        Set<String> before = dst.vdiKeys();
        progress.clear();

        TaskInfo t = Tasks.await(tasks, data.copy("t", from, source.vdi(), "0", LOCAL, to, false), Soon.times(2));

        TaskState.Completed done = assertInstanceOf(TaskState.Completed.class, t.state(), t.toString());
        VdiInfo snap = assertInstanceOf(AsyncResult.VdiInfoResult.class, done.completion().result().orElseThrow())
                .value();
        String[] digests = new String[2];
        long[] allocated = new long[1];
        src.withPath(source.vdi(), false, p -> digests[0] = Disk.sha256(p, SIZE));
        dst.withPath(snap.vdi(), false, p -> {
            digests[1] = Disk.sha256(p, SIZE);
            allocated[0] = Disk.allocated(p);
        });
        assertEquals(digests[0], digests[1], "bytes identical");
        assertTrue(allocated[0] <= 4 * MIB, "holes and zero runs not allocated: " + allocated[0]);
        assertEquals(source.contentId(), snap.contentId());
        assertEquals(source.contentId(), dst.service().vdi().stat("t", to, snap.vdi()).contentId());
        Set<String> after = dst.vdiKeys();
        after.removeAll(before);
        assertEquals(Set.of(snap.vdi()), after, "only the snapshot is left on the destination");
        src.assertNothingAttached(source.vdi());
        dst.assertNothingAttached(snap.vdi());
        assertTrue(progress.stream().anyMatch(p -> p > 0.05 && p < 0.95), "progress seen: " + progress);
        assertTrue(data.list("t").isEmpty());
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @MethodSource("directions")
    void cancelMidCopyDetachesBothAndRemovesTheDestination(String from, String to) throws Exception {
        Backends.Sr src = backends.sr(from);
        Backends.Sr dst = backends.sr(to);
        VdiInfo source = sourceOn(src);
        Set<String> before = dst.vdiKeys();
        progress.clear();
        CompletableFuture<String> id = new CompletableFuture<>();
        onSignal.set(() -> {
            if (!progress.isEmpty() && progress.get(progress.size() - 1) > 0.3) {
                // the id is known once copy returns, however late the test thread gets there
                tasks.cancel("t", id.orTimeout(Soon.millis(), TimeUnit.MILLISECONDS).join());
            }
        });
        try {
            id.complete(data.copy("t", from, source.vdi(), "0", LOCAL, to, false));
            TaskInfo t = Tasks.await(tasks, id.get(), Soon.times(2));

            assertEquals(new StorageError.Cancelled(id.get()), Tasks.error(t));
            double last = progress.get(progress.size() - 1);
            assertTrue(last > 0.3 && last < 0.95, "cancelled mid-copy, at " + last);
            assertEquals(before, dst.vdiKeys(), "destination VDI removed");
            src.assertNothingAttached(source.vdi());
            dst.assertNoAttachLeft();
        } finally {
            onSignal.set(() -> { });
        }
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @MethodSource("directions")
    void failingDestinationFailsTheTaskWithTheBackendsError(String from, String to) throws Exception {
        Backends.Sr src = backends.sr(from);
        Backends.Sr dst = backends.sr(to);
        VdiInfo source = sourceOn(src);
        dst.breakIt();
        try {
            StorageError direct = assertThrows(StorageException.class,
                    () -> dst.service().vdi().create("t", to, VdiInfo.defaults("", "probe").withSizes(MIB, 0))).error();

            TaskInfo t = Tasks.await(tasks, data.copy("t", from, source.vdi(), "0", LOCAL, to, false), Soon.times(2));

            StorageError e = Tasks.error(t);
            assertEquals(direct.getClass(), e.getClass(), e.toString());
            assertTrue(e instanceof StorageError.BackendError || e instanceof StorageError.BackendErrorWithBacktrace,
                    "a backend error, as the backend raised it: " + e);
            src.assertNothingAttached(source.vdi());
        } finally {
            dst.repair();
        }
    }
}
