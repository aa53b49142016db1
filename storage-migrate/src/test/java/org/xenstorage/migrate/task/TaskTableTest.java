package org.xenstorage.migrate.task;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.AsyncResult;
import org.xenstorage.idl.types.TaskInfo;
import org.xenstorage.idl.types.TaskState;
import org.xenstorage.migrate.Tasks;

class TaskTableTest {
    private final List<String> signals = new CopyOnWriteArrayList<>();
    private final TaskTable table = new TaskTable(signals::add);

    @AfterEach
    void close() {
        table.close();
    }

    @Test
    void idsCountFromZeroAndCompletedTasksCarryTheirResult() throws Exception {
        String a = table.launch("d", "a", ctx -> Optional.of(new AsyncResult.MirrorId("m")));
        String b = table.launch("d", "b", ctx -> Optional.empty());
        assertEquals("0", a);
        assertEquals("1", b);
        TaskInfo ta = Tasks.await(table, a, 10);
        TaskState.Completed c = assertInstanceOf(TaskState.Completed.class, ta.state());
        assertEquals(Optional.of(new AsyncResult.MirrorId("m")), c.completion().result());
        assertEquals("d", ta.dbg());
        assertTrue(ta.cancellable());
        assertInstanceOf(TaskState.Completed.class, Tasks.await(table, b, 10).state());
        assertTrue(signals.contains(a) && signals.contains(b), "completion is signalled: " + signals);
    }

    @Test
    void storageErrorsAreKeptAndOtherFailuresBecomeInternalError() throws Exception {
        String a = table.launch("d", "a", ctx -> {
            throw new StorageException(new StorageError.BackendError("SR_BACKEND_FAILURE_44", List.of("x")));
        });
        String b = table.launch("d", "b", ctx -> {
            throw new IllegalStateException("boom");
        });
        assertEquals(new StorageError.BackendError("SR_BACKEND_FAILURE_44", List.of("x")),
                Tasks.error(Tasks.await(table, a, 10)));
        StorageError eb = Tasks.error(Tasks.await(table, b, 10));
        assertTrue(eb instanceof StorageError.InternalError ie && ie.message().contains("boom"), eb.toString());
    }

    @Test
    void progressIsVisibleInStatAndSignalled() throws Exception {
        CountDownLatch reported = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        String id = table.launch("d", "p", ctx -> {
            ctx.progress(0.42);
            reported.countDown();
            release.await();
            return Optional.empty();
        });
        assertTrue(reported.await(10, TimeUnit.SECONDS));
        assertEquals(new TaskState.Pending(0.42), table.stat("d", id).state());
        assertTrue(signals.contains(id));
        release.countDown();
        Tasks.await(table, id, 10);
    }

    @Test
    void cancelRunsCallbacksAndTheNextCancellationPointRaisesCancelled() throws Exception {
        CountDownLatch registered = new CountDownLatch(1);
        CountDownLatch callbackRan = new CountDownLatch(1);
        String id = table.launch("d", "c", ctx -> {
            try (TaskContext.CancelRegistration r = ctx.onCancel(callbackRan::countDown)) {
                registered.countDown();
                assertTrue(callbackRan.await(10, TimeUnit.SECONDS));
            }
            ctx.checkCancelled();
            return Optional.empty();
        });
        assertTrue(registered.await(10, TimeUnit.SECONDS));
        table.cancel("d", id);
        assertEquals(new StorageError.Cancelled(id), Tasks.error(Tasks.await(table, id, 10)));
        assertTrue(Long.parseLong(table.stat("d", id).debugInfo().get("cancel_points_seen")) >= 1);
    }

    @Test
    void cancelOfAFinishedTaskChangesNothing() throws Exception {
        String id = table.launch("d", "x", ctx -> Optional.empty());
        Tasks.await(table, id, 10);
        table.cancel("d", id);
        assertInstanceOf(TaskState.Completed.class, table.stat("d", id).state());
    }

    @Test
    void destroyForgetsAndUnknownIdsAreDoesNotExist() throws Exception {
        String id = table.launch("d", "x", ctx -> Optional.empty());
        Tasks.await(table, id, 10);
        table.destroy("d", id);
        StorageException e = assertThrows(StorageException.class, () -> table.stat("d", id));
        assertEquals(new StorageError.DoesNotExist("task", id), e.error());
        assertThrows(StorageException.class, () -> table.cancel("d", "nope"));
        assertThrows(StorageException.class, () -> table.destroy("d", "nope"));
    }

    @Test
    void listIsInStringOrder() throws Exception {
        for (int i = 0; i < 11; i++) {
            Tasks.await(table, table.launch("d", "x", ctx -> Optional.empty()), 10);
        }
        List<String> ids = table.list("d").stream().map(TaskInfo::id).toList();
        assertEquals(List.of("0", "1", "10", "2", "3", "4", "5", "6", "7", "8", "9"), ids);
    }
}
