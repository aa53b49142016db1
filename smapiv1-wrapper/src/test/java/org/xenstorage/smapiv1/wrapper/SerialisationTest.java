package org.xenstorage.smapiv1.wrapper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.DpState;
import org.xenstorage.idl.types.RoRw;

/**
 * Locking (spec 2.5, acceptance 18): different VDIs overlap inside the layer below, one VDI never has two
 * calls in flight, SR.detach waits for VDI calls in flight and holds back later ones. Overlap is forced
 * with latches (a serialised wrapper would leave the latch unreleased), never measured in time.
 */
class SerialisationTest {
    static final int N = 64;

    @TempDir
    Path dir;
    RecordingSm sm;
    Wrapper wrapper;
    StorageService s;
    ExecutorService pool;

    @BeforeEach
    void setUp() {
        sm = new RecordingSm();
        wrapper = new Wrapper(sm.service(), dir.resolve("storage.db"));
        s = wrapper.service();
        s.sr().attach("dbg", "sr", Map.of());
        sm.clear();
        pool = Executors.newFixedThreadPool(N);
    }

    @AfterEach
    void tearDown() {
        pool.shutdownNow();
    }

    @Test
    void distinctVdisOverlapInsideTheBackend() throws Exception {
        // every attach waits (bounded) until a second attach is inside the backend at the same time
        CountDownLatch two = new CountDownLatch(2);
        sm.during = c -> {
            if (c.startsWith("VDI.attach3")) {
                two.countDown();
                await(two);
            }
        };
        List<Future<?>> done = new ArrayList<>();
        for (int i = 0; i < N; i++) {
            String vdi = "v" + i;
            done.add(pool.submit(() -> {
                s.vdi().attach3("dbg", "dp-" + vdi, "sr", vdi, "vm", true);
                s.vdi().activate3("dbg", "dp-" + vdi, "sr", vdi, "vm");
            }));
        }
        for (Future<?> f : done) {
            f.get(60, TimeUnit.SECONDS);
        }
        assertTrue(sm.maxInFlight.get() > 1, "max calls in flight: " + sm.maxInFlight.get());
        assertEquals(1, sm.maxPerVdi.get());
        assertEquals(2 * N, sm.calls().size());
        for (int i = 0; i < N; i++) {
            assertEquals(new DpState.Activated(RoRw.RW), s.dp().statVdi("dbg", "sr", "v" + i).superstate());
            assertEquals("activated RW", sm.ledger.get("v" + i));
        }
    }

    @Test
    void oneVdiNeverHasTwoCallsInFlight() throws Exception {
        // widen the window a second caller would need to slip in (not a timing assertion)
        sm.during = c -> sleepQuietly();
        List<Future<?>> done = new ArrayList<>();
        for (int i = 0; i < N; i++) {
            String dp = "dp" + i;
            done.add(pool.submit(() -> {
                s.vdi().resize("dbg", "sr", "v", 1024);
                s.vdi().attach3("dbg", dp, "sr", "v", "vm", false);
                s.vdi().activate3("dbg", dp, "sr", "v", "vm");
                s.vdi().deactivate("dbg", dp, "sr", "v", "vm");
                s.vdi().detach("dbg", dp, "sr", "v", "vm");
            }));
        }
        for (Future<?> f : done) {
            f.get(60, TimeUnit.SECONDS);
        }
        assertEquals(1, sm.maxPerVdi.get());
        // every SM call alternates up/down in pairs: attach, activate, deactivate, detach, attach, ...
        assertEquals(N, sm.calls().stream().filter(c -> c.startsWith("VDI.resize")).count());
        List<String> calls = sm.calls().stream().filter(c -> !c.startsWith("VDI.resize")).toList();
        assertFalse(calls.isEmpty());
        List<String> cycle = List.of("VDI.attach3 v rw=false", "VDI.activate3 v", "VDI.deactivate v", "VDI.detach v");
        for (int i = 0; i < calls.size(); i++) {
            assertEquals(cycle.get(i % 4), calls.get(i), "call " + i + " of " + calls);
        }
        assertEquals(0, calls.size() % 4);
        assertEquals(DpState.DETACHED, s.dp().statVdi("dbg", "sr", "v").superstate());
        assertEquals(Map.of(), sm.ledger);
    }

    @Test
    void srDetachWaitsForVdiCallsInFlightAndHoldsBackLaterOnes() throws Exception {
        CountDownLatch attachInside = new CountDownLatch(1);
        CountDownLatch releaseAttach = new CountDownLatch(1);
        CountDownLatch detachInside = new CountDownLatch(1);
        CountDownLatch releaseDetach = new CountDownLatch(1);
        sm.during = c -> {
            if (c.equals("VDI.attach3 v rw=true")) {
                attachInside.countDown();
                await(releaseAttach);
            } else if (c.equals("SR.detach sr")) {
                detachInside.countDown();
                await(releaseDetach);
            }
        };
        Future<?> attach = pool.submit(() -> s.vdi().attach3("dbg", "A", "sr", "v", "vm", true));
        assertTrue(attachInside.await(30, TimeUnit.SECONDS));
        Future<?> detach = pool.submit(() -> s.sr().detach("dbg", "sr"));
        releaseAttach.countDown();
        attach.get(30, TimeUnit.SECONDS);
        assertTrue(detachInside.await(30, TimeUnit.SECONDS));
        // the attach finished before SR.detach tore it down and called SM SR.detach
        assertEquals(List.of("VDI.attach3 v rw=true", "VDI.detach v", "SR.detach sr"), sm.calls());
        // a VDI call sent now runs only after SR.detach finished: it then finds the SR gone
        Future<?> late = pool.submit(() -> s.vdi().attach3("dbg", "B", "sr", "w", "vm", true));
        releaseDetach.countDown();
        detach.get(30, TimeUnit.SECONDS);
        try {
            late.get(30, TimeUnit.SECONDS);
            throw new AssertionError("attach after SR.detach succeeded");
        } catch (java.util.concurrent.ExecutionException e) {
            assertEquals(new StorageError.SrNotAttached("sr"), ((StorageException) e.getCause()).error());
        }
        assertEquals(List.of("VDI.attach3 v rw=true", "VDI.detach v", "SR.detach sr"), sm.calls());
    }

    @Test
    void scansOfOneSrRunOneAtATimeButBesideVdiCalls() throws Exception {
        CountDownLatch scanInside = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        sm.during = c -> {
            if (c.equals("SR.scan sr")) {
                scanInside.countDown();
                await(release);
            }
        };
        Future<?> scan = pool.submit(() -> s.sr().scan("dbg", "sr"));
        assertTrue(scanInside.await(30, TimeUnit.SECONDS));
        // a VDI call is not blocked by the scan holding the SR lock
        s.vdi().attach3("dbg", "A", "sr", "v", "vm", true);
        release.countDown();
        scan.get(30, TimeUnit.SECONDS);
        assertEquals(List.of("SR.scan sr", "VDI.attach3 v rw=true"), sm.calls());
    }

    private static void sleepQuietly() {
        try {
            Thread.sleep(1);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void await(CountDownLatch l) {
        try {
            if (!l.await(30, TimeUnit.SECONDS)) {
                throw new AssertionError("latch not released");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
