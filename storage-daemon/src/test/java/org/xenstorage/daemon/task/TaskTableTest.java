package org.xenstorage.daemon.task;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.xenstorage.daemon.updates.UpdateLog;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.rpc.StorageDispatcher;
import org.xenstorage.idl.types.AsyncResult;
import org.xenstorage.idl.types.DynamicId;
import org.xenstorage.idl.types.TaskState;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.idl.wire.Json;

/** TASK semantics (spec wrapper-mux 4.1-4.3, 4.6; acceptance tests 26, 27, 29). */
class TaskTableTest {
    final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
    final ExecutorService runner = Executors.newCachedThreadPool();
    final UpdateLog log = new UpdateLog(1, scheduler);
    final TaskTable tasks = new TaskTable(log, runner);

    @AfterEach
    void stop() {
        scheduler.shutdownNow();
        runner.shutdownNow();
    }

    TaskState awaitEnd(String id) throws InterruptedException {
        for (int i = 0; i < 500; i++) {
            TaskState s = tasks.stat("t", id).state();
            if (!(s instanceof TaskState.Pending)) {
                return s;
            }
            Thread.sleep(10);
        }
        throw new AssertionError("task " + id + " did not end");
    }

    @Test
    void idsCountFromZeroAndAResultEndsCompletedAndSignalled() throws Exception {
        VdiInfo v = VdiInfo.defaults("v", "v");
        String id = tasks.launch("dbg\ntrace", "test", ctx -> {
            ctx.progress(0.5);
            return Optional.of(new AsyncResult.VdiInfoResult(v));
        });
        assertEquals("0", id);
        TaskState end = awaitEnd(id);
        TaskState.Completed c = assertInstanceOf(TaskState.Completed.class, end);
        assertEquals(Optional.of(new AsyncResult.VdiInfoResult(v)), c.completion().result());
        assertEquals("dbg", tasks.stat("t", id).dbg(), "only the log part of dbg names the task");
        assertEquals(List.of(new DynamicId.Task("0")), log.get(0).updates());
    }

    @Test
    void aStorageErrorEndsFailedWithThatErrorAndAnythingElseAsInternalError() throws Exception {
        String a = tasks.launch("d", "x", ctx -> {
            throw new StorageException(new StorageError.BackendError("SR_BACKEND_FAILURE_44", List.of("", "full", "")));
        });
        String b = tasks.launch("d", "x", ctx -> {
            throw new IllegalStateException("boom");
        });
        assertEquals(Json.parse("[\"Backend_error\",[\"SR_BACKEND_FAILURE_44\",[\"\",\"full\",\"\"]]]"),
                ((TaskState.Failed) awaitEnd(a)).error());
        JsonNode e = ((TaskState.Failed) awaitEnd(b)).error();
        assertEquals("Internal_error", e.get(0).asText());
        assertTrue(e.get(1).asText().contains("boom"));
    }

    @Test
    void cancelRunsTheCallbackAndTheBodyEndsCancelled() throws Exception {
        CountDownLatch inside = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicBoolean killed = new AtomicBoolean();
        String id = tasks.launch("d", "x", ctx -> {
            try (var reg = ctx.onCancel(() -> {
                killed.set(true);
                release.countDown();
            })) {
                inside.countDown();
                release.await(10, TimeUnit.SECONDS);
                ctx.checkCancelled();
                return Optional.empty();
            }
        });
        assertTrue(inside.await(5, TimeUnit.SECONDS));
        tasks.cancel("d", id);
        assertEquals(Json.parse("[\"Cancelled\",\"" + id + "\"]"), ((TaskState.Failed) awaitEnd(id)).error());
        assertTrue(killed.get());
        tasks.cancel("d", id); // a finished task: no error, no change
        assertInstanceOf(TaskState.Failed.class, tasks.stat("d", id).state());
    }

    @Test
    void aTaskThatProhibitsCancellationIgnoresCancel() throws Exception {
        CountDownLatch inside = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        String id = tasks.launch("d", "x", ctx -> {
            ((TaskTable.Task) ctx).prohibitCancellation();
            inside.countDown();
            release.await(10, TimeUnit.SECONDS);
            ctx.checkCancelled();
            return Optional.empty();
        });
        assertTrue(inside.await(5, TimeUnit.SECONDS));
        tasks.cancel("d", id);
        release.countDown();
        assertInstanceOf(TaskState.Completed.class, awaitEnd(id));
    }

    @Test
    void destroyForgetsTheTaskAndItsUpdateAndUnknownIdsAreDoesNotExist() throws Exception {
        String id = tasks.launch("d", "x", ctx -> Optional.empty());
        awaitEnd(id);
        tasks.destroy("d", id);
        StorageException e = assertThrows(StorageException.class, () -> tasks.stat("d", id));
        assertEquals(new StorageError.DoesNotExist("task", id), e.error());
        assertTrue(log.get(0).updates().isEmpty());
        assertThrows(StorageException.class, () -> tasks.cancel("d", "99"));
        assertThrows(StorageException.class, () -> tasks.destroy("d", "99"));
    }

    @Test
    void listIsInStringOrderOfIds() throws Exception {
        for (int i = 0; i < 11; i++) {
            awaitEnd(tasks.launch("d", "x", ctx -> Optional.empty()));
        }
        assertEquals(List.of("0", "1", "10", "2", "3", "4", "5", "6", "7", "8", "9"),
                tasks.list("d").stream().map(t -> t.id()).toList());
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
        awaitEnd(id);
        StorageDispatcher d = new StorageDispatcher(StorageService.of(tasks));
        JsonNode r = Json.parse(d.dispatch("{\"method\":\"TASK.stat\",\"params\":[{\"dbg\":\"x\",\"task\":\"" + id
                + "\"}],\"id\":1}").get()).get("result");
        Set<String> keys = new java.util.TreeSet<>();
        r.fieldNames().forEachRemaining(keys::add);
        assertEquals(new java.util.TreeSet<>(List.of("id", "dbg", "ctime", "state", "subtasks", "debug_info",
                "backtrace", "cancellable")), keys);
        assertEquals("1", r.at("/debug_info/cancel_points_seen").asText());
        assertEquals("Completed", r.at("/subtasks/copy/0").asText());
        assertEquals("()", r.get("backtrace").asText());
        assertTrue(r.get("cancellable").isBoolean());
        assertEquals("Completed", r.at("/state/0").asText());
        assertTrue(r.at("/state/1/duration").isNumber());
    }
}
