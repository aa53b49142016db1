package org.xenstorage.migrate.task;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.rpc.StorageDispatcher;
import org.xenstorage.idl.types.AsyncResult;
import org.xenstorage.idl.types.TaskInfo;
import org.xenstorage.idl.types.TaskState;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.migrate.Tasks;
import org.xenstorage.testing.Soon;

/** TASK semantics (spec wrapper-mux 4.1-4.3, 4.6; acceptance tests 26, 27, 29). */
class TaskTableTest {
    private final ExecutorService runner = Executors.newCachedThreadPool();
    private final List<String> changed = new CopyOnWriteArrayList<>();
    private final List<String> destroyed = new CopyOnWriteArrayList<>();
    private final TaskTable tasks = new TaskTable(changed::add, destroyed::add, runner);

    @AfterEach
    void stop() {
        runner.shutdownNow();
    }

    /** A task's end is signalled just after it is recorded: wait for the {@code n}th signal. */
    private void awaitSignals(int n) throws InterruptedException {
        Soon.await(n + " task signals", () -> changed.size() >= n);
    }

    /** Waits for a latch another thread counts down soon; false when it did not. */
    private static boolean soon(CountDownLatch latch) throws InterruptedException {
        return latch.await(Soon.millis(), TimeUnit.MILLISECONDS);
    }

    @Test
    void idsCountFromZeroAndCompletedTasksCarryTheirResult() throws Exception {
        String a = tasks.launch("d", "a", ctx -> Optional.of(new AsyncResult.MirrorId("m")));
        String b = tasks.launch("d", "b", ctx -> Optional.empty());
        assertEquals("0", a);
        assertEquals("1", b);
        TaskInfo ta = Tasks.await(tasks, a);
        TaskState.Completed c = assertInstanceOf(TaskState.Completed.class, ta.state());
        assertEquals(Optional.of(new AsyncResult.MirrorId("m")), c.completion().result());
        assertEquals("d", ta.dbg());
        assertTrue(ta.cancellable());
        assertInstanceOf(TaskState.Completed.class, Tasks.await(tasks, b).state());
        awaitSignals(2);
        assertTrue(changed.contains(a) && changed.contains(b), "completion is signalled: " + changed);
    }

    @Test
    void onlyTheLogPartOfDbgNamesTheTaskAndProgressAndTheEndAreSignalled() throws Exception {
        VdiInfo v = VdiInfo.defaults("v", "v");
        String id = tasks.launch("dbg\ntrace", "test", ctx -> {
            ctx.progress(0.5);
            return Optional.of(new AsyncResult.VdiInfoResult(v));
        });
        assertEquals("0", id);
        TaskState end = Tasks.await(tasks, id).state();
        TaskState.Completed c = assertInstanceOf(TaskState.Completed.class, end);
        assertEquals(Optional.of(new AsyncResult.VdiInfoResult(v)), c.completion().result());
        assertEquals("dbg", tasks.stat("t", id).dbg(), "only the log part of dbg names the task");
        awaitSignals(2);
        assertEquals(List.of("0", "0"), changed, "the progress, then the end");
        assertEquals(List.of(), destroyed);
    }

    @Test
    void storageErrorsAreKeptAndOtherFailuresBecomeInternalError() throws Exception {
        String a = tasks.launch("d", "a", ctx -> {
            throw new StorageException(new StorageError.BackendError("SR_BACKEND_FAILURE_44", List.of("", "full", "")));
        });
        String b = tasks.launch("d", "b", ctx -> {
            throw new IllegalStateException("boom");
        });
        TaskInfo ta = Tasks.await(tasks, a);
        assertEquals(Json.parse("[\"Backend_error\",[\"SR_BACKEND_FAILURE_44\",[\"\",\"full\",\"\"]]]"),
                ((TaskState.Failed) ta.state()).error());
        assertEquals(new StorageError.BackendError("SR_BACKEND_FAILURE_44", List.of("", "full", "")), Tasks.error(ta));
        TaskInfo tb = Tasks.await(tasks, b);
        JsonNode e = ((TaskState.Failed) tb.state()).error();
        assertEquals("Internal_error", e.get(0).asText());
        assertTrue(e.get(1).asText().contains("boom"));
        StorageError eb = Tasks.error(tb);
        assertTrue(eb instanceof StorageError.InternalError ie && ie.message().contains("boom"), eb.toString());
    }

    @Test
    void progressIsVisibleInStatAndSignalled() throws Exception {
        CountDownLatch reported = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        String id = tasks.launch("d", "p", ctx -> {
            ctx.progress(0.42);
            reported.countDown();
            release.await();
            return Optional.empty();
        });
        assertTrue(soon(reported));
        assertEquals(new TaskState.Pending(0.42), tasks.stat("d", id).state());
        assertTrue(changed.contains(id));
        release.countDown();
        Tasks.await(tasks, id);
    }

    @Test
    void cancelRunsCallbacksAndTheNextCancellationPointRaisesCancelled() throws Exception {
        CountDownLatch registered = new CountDownLatch(1);
        CountDownLatch callbackRan = new CountDownLatch(1);
        String id = tasks.launch("d", "c", ctx -> {
            try (TaskContext.CancelRegistration r = ctx.onCancel(callbackRan::countDown)) {
                registered.countDown();
                assertTrue(soon(callbackRan));
            }
            ctx.checkCancelled();
            return Optional.empty();
        });
        assertTrue(soon(registered));
        tasks.cancel("d", id);
        assertEquals(new StorageError.Cancelled(id), Tasks.error(Tasks.await(tasks, id)));
        assertTrue(Long.parseLong(tasks.stat("d", id).debugInfo().get("cancel_points_seen")) >= 1);
    }

    @Test
    void cancelRunsTheCallbackAndTheBodyEndsCancelledOnTheWire() throws Exception {
        CountDownLatch inside = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicBoolean killed = new AtomicBoolean();
        String id = tasks.launch("d", "x", ctx -> {
            try (var reg = ctx.onCancel(() -> {
                killed.set(true);
                release.countDown();
            })) {
                inside.countDown();
                soon(release);
                ctx.checkCancelled();
                return Optional.empty();
            }
        });
        assertTrue(soon(inside));
        tasks.cancel("d", id);
        assertEquals(Json.parse("[\"Cancelled\",\"" + id + "\"]"),
                ((TaskState.Failed) Tasks.await(tasks, id).state()).error());
        assertTrue(killed.get());
        tasks.cancel("d", id); // a finished task: no error, no change
        assertInstanceOf(TaskState.Failed.class, tasks.stat("d", id).state());
    }

    @Test
    void cancelOfAFinishedTaskChangesNothing() throws Exception {
        AtomicInteger callbacks = new AtomicInteger();
        String id = tasks.launch("d", "x", ctx -> {
            ctx.onCancel(callbacks::incrementAndGet); // left registered on purpose
            return Optional.empty();
        });
        Tasks.await(tasks, id);
        tasks.cancel("d", id);
        assertInstanceOf(TaskState.Completed.class, tasks.stat("d", id).state());
        assertEquals(0, callbacks.get(), "a finished task's callbacks do not run");
    }

    @Test
    void withCancelRunsItsCallbackOnCancelAndAtOnceWhenAlreadyCancelled() throws Exception {
        CountDownLatch inside = new CountDownLatch(1);
        AtomicInteger first = new AtomicInteger();
        AtomicInteger second = new AtomicInteger();
        AtomicBoolean secondBodyRan = new AtomicBoolean();
        String id = tasks.launch("d", "x", ctx -> {
            TaskTable.Task t = (TaskTable.Task) ctx;
            CountDownLatch cancelled = new CountDownLatch(1);
            t.withCancel(() -> {
                first.incrementAndGet();
                cancelled.countDown();
            }, () -> {
                inside.countDown();
                return soon(cancelled);
            });
            return t.withCancel(second::incrementAndGet, () -> {
                secondBodyRan.set(true);
                return Optional.<AsyncResult>empty();
            });
        });
        assertTrue(soon(inside));
        tasks.cancel("d", id);
        assertEquals(new StorageError.Cancelled(id), Tasks.error(Tasks.await(tasks, id)));
        assertEquals(1, first.get());
        assertEquals(1, second.get(), "the second withCancel saw the cancel at once");
        assertFalse(secondBodyRan.get());
    }

    @Test
    void aTaskThatProhibitsCancellationIgnoresCancel() throws Exception {
        CountDownLatch inside = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        String id = tasks.launch("d", "x", ctx -> {
            ((TaskTable.Task) ctx).prohibitCancellation();
            inside.countDown();
            soon(release);
            ctx.checkCancelled();
            return Optional.empty();
        });
        assertTrue(soon(inside));
        assertFalse(tasks.stat("d", id).cancellable());
        tasks.cancel("d", id);
        release.countDown();
        assertInstanceOf(TaskState.Completed.class, Tasks.await(tasks, id).state());
    }

    @Test
    void destroyForgetsTheTaskAndUnknownIdsAreDoesNotExist() throws Exception {
        String id = tasks.launch("d", "x", ctx -> Optional.empty());
        Tasks.await(tasks, id);
        tasks.destroy("d", id);
        StorageException e = assertThrows(StorageException.class, () -> tasks.stat("d", id));
        assertEquals(new StorageError.DoesNotExist("task", id), e.error());
        assertEquals(List.of(id), destroyed, "the destroy is passed on (the daemon drops the task's update)");
        assertThrows(StorageException.class, () -> tasks.cancel("d", "nope"));
        assertThrows(StorageException.class, () -> tasks.destroy("d", "nope"));
        assertThrows(StorageException.class, () -> tasks.cancel("d", "99"));
        StorageException d = assertThrows(StorageException.class, () -> tasks.destroy("d", "99"));
        assertEquals(new StorageError.DoesNotExist("task", "99"), d.error());
        assertEquals(List.of(id), destroyed, "an unknown id is not passed on");
    }

    @Test
    void aDestroyedTaskIsNeverSignalledAgain() throws Exception {
        CountDownLatch inside = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        String id = tasks.launch("d", "x", ctx -> {
            inside.countDown();
            soon(release);
            ctx.progress(0.5);
            return Optional.empty();
        });
        assertTrue(soon(inside));
        tasks.destroy("d", id);
        release.countDown();
        runner.shutdown();
        assertTrue(runner.awaitTermination(Soon.millis(), TimeUnit.MILLISECONDS), "the body and its end are over");
        assertEquals(List.of(id), destroyed);
        assertEquals(List.of(), changed, "neither the progress nor the end of a destroyed task is signalled");
    }

    @Test
    void listIsInStringOrderOfIds() throws Exception {
        for (int i = 0; i < 11; i++) {
            Tasks.await(tasks, tasks.launch("d", "x", ctx -> Optional.empty()));
        }
        List<String> ids = tasks.list("d").stream().map(TaskInfo::id).toList();
        assertEquals(List.of("0", "1", "10", "2", "3", "4", "5", "6", "7", "8", "9"), ids);
    }

    @Test
    void taskStatOnTheWireHasExactlyTheUpstreamKeys() throws Exception {
        String id = tasks.launch("d", "x", ctx -> {
            ((TaskTable.Task) ctx).withSubtask("copy", () -> {
                ctx.checkCancelled();
                return null;
            });
            return Optional.empty();
        });
        Tasks.await(tasks, id);
        StorageDispatcher d = new StorageDispatcher(StorageService.of(tasks));
        JsonNode r = Json.parse(d.dispatch("{\"method\":\"TASK.stat\",\"params\":[{\"dbg\":\"x\",\"task\":\"" + id
                + "\"}],\"id\":1}").get()).get("result");
        Set<String> keys = new TreeSet<>();
        r.fieldNames().forEachRemaining(keys::add);
        assertEquals(new TreeSet<>(List.of("id", "dbg", "ctime", "state", "subtasks", "debug_info",
                "backtrace", "cancellable")), keys);
        assertEquals("1", r.at("/debug_info/cancel_points_seen").asText());
        assertEquals("Completed", r.at("/subtasks/copy/0").asText());
        assertEquals("()", r.get("backtrace").asText());
        assertTrue(r.get("cancellable").isBoolean());
        assertEquals("Completed", r.at("/state/0").asText());
        assertTrue(r.at("/state/1/duration").isNumber());
    }
}
