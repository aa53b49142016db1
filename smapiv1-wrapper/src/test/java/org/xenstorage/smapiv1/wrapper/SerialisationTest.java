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
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.DpState;
import org.xenstorage.idl.types.RoRw;
import org.xenstorage.idl.automaton.Op;
import org.xenstorage.idl.automaton.VdiAutomaton;
import org.xenstorage.testing.Soon;

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
            Soon.get(f);
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
            Soon.get(f);
        }
        assertEquals(1, sm.maxPerVdi.get());
        assertEquals(N, sm.calls().stream().filter(c -> c.startsWith("VDI.resize")).count());
        List<String> calls = sm.calls().stream().filter(c -> !c.startsWith("VDI.resize")).toList();
        // the SM calls walk the VDI's superstate one legal step at a time and end detached
        assertFalse(calls.isEmpty());
        DpState backend = DpState.DETACHED;
        for (String c : calls) {
            Op op = switch (c) {
                case "VDI.attach3 v rw=false" -> Op.ATTACH_RO;
                case "VDI.activate3 v" -> Op.ACTIVATE;
                case "VDI.deactivate v" -> Op.DEACTIVATE;
                case "VDI.detach v" -> Op.DETACH;
                default -> throw new AssertionError("unexpected SM call " + c);
            };
            DpState next = VdiAutomaton.plus(backend, op);
            assertEquals(List.of(op), VdiAutomaton.ops(backend, next), c + " from " + backend + " in " + calls);
            backend = next;
        }
        assertEquals(DpState.DETACHED, backend);
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
        await(attachInside);
        Future<?> detach = pool.submit(() -> s.sr().detach("dbg", "sr"));
        releaseAttach.countDown();
        Soon.get(attach);
        await(detachInside);
        // the attach finished before SR.detach tore it down and called SM SR.detach
        assertEquals(List.of("VDI.attach3 v rw=true", "VDI.detach v", "SR.detach sr"), sm.calls());
        // a VDI call sent now runs only after SR.detach finished: it then finds the SR gone
        AtomicReference<Thread> caller = new AtomicReference<>();
        Future<?> late = pool.submit(() -> {
            caller.set(Thread.currentThread());
            s.vdi().attach3("dbg", "B", "sr", "w", "vm", true);
        });
        // released only once the call is parked on the wrapper's lock (or, were it not held back, done): a pool
        // thread slow to start it would otherwise send it after SR.detach finished, proving nothing
        Soon.await("the late attach parked on the wrapper's lock", () -> late.isDone()
                || caller.get() != null && caller.get().getState() == Thread.State.WAITING);
        releaseDetach.countDown();
        Soon.get(detach);
        try {
            Soon.get(late);
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
        await(scanInside);
        // a VDI call is not blocked by the scan holding the SR lock
        s.vdi().attach3("dbg", "A", "sr", "v", "vm", true);
        release.countDown();
        Soon.get(scan);
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
            if (!l.await(Soon.millis(), TimeUnit.MILLISECONDS)) {
                throw new AssertionError("latch not released");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
