package org.xenstorage.daemon.task;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.xenstorage.daemon.updates.UpdateLog;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.DynamicId;
import org.xenstorage.idl.types.TaskState;
import org.xenstorage.migrate.task.TaskTable;
import org.xenstorage.testing.Soon;

/**
 * The daemon's task table and its UPDATES log (spec wrapper-mux 4.3, 4.6): task changes are the update
 * {@code Task id}, {@code TASK.destroy} removes it for good. The table itself is tested in storage-migrate's
 * {@code TaskTableTest}.
 */
class DaemonTasksTest {
    final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
    final ExecutorService runner = Executors.newCachedThreadPool();
    final UpdateLog log = new UpdateLog(1, scheduler);
    final TaskTable tasks = DaemonTasks.table(log, runner);

    @AfterEach
    void stop() {
        scheduler.shutdownNow();
        runner.shutdownNow();
    }

    TaskState awaitEnd(String id) throws InterruptedException {
        Soon.await("task " + id + " ends", () -> !(tasks.stat("t", id).state() instanceof TaskState.Pending));
        return tasks.stat("t", id).state();
    }

    /** The end is signalled just after it is recorded: wait until the log has an update. */
    List<DynamicId> awaitUpdates() throws InterruptedException {
        Soon.await("an update in the log", () -> !log.get(0).updates().isEmpty());
        return log.get(0).updates();
    }

    @Test
    void aTaskChangeIsTheUpdateTaskId() throws Exception {
        String id = tasks.launch("dbg\ntrace", "test", ctx -> {
            ctx.progress(0.5);
            return Optional.empty();
        });
        assertEquals("0", id);
        assertInstanceOf(TaskState.Completed.class, awaitEnd(id));
        assertEquals(List.of(new DynamicId.Task("0")), awaitUpdates());
    }

    @Test
    void destroyForgetsTheTaskAndItsUpdate() throws Exception {
        String id = tasks.launch("d", "x", ctx -> Optional.empty());
        awaitEnd(id);
        assertEquals(List.of(new DynamicId.Task(id)), awaitUpdates());
        tasks.destroy("d", id);
        StorageException e = assertThrows(StorageException.class, () -> tasks.stat("d", id));
        assertEquals(new StorageError.DoesNotExist("task", id), e.error());
        assertTrue(log.get(0).updates().isEmpty());
        assertThrows(StorageException.class, () -> tasks.cancel("d", "99"));
        assertThrows(StorageException.class, () -> tasks.destroy("d", "99"));
    }

    @Test
    void aTaskDestroyedWhileRunningNeverPutsItsUpdateBack() throws Exception {
        CountDownLatch inside = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        String id = tasks.launch("d", "x", ctx -> {
            ctx.progress(0.1);
            inside.countDown();
            release.await(Soon.millis(), TimeUnit.MILLISECONDS);
            ctx.progress(0.5);
            return Optional.empty();
        });
        assertTrue(inside.await(Soon.millis(), TimeUnit.MILLISECONDS));
        assertEquals(List.of(new DynamicId.Task(id)), log.get(0).updates());
        tasks.destroy("d", id);
        assertTrue(log.get(0).updates().isEmpty());
        release.countDown();
        runner.shutdown();
        assertTrue(runner.awaitTermination(Soon.millis(), TimeUnit.MILLISECONDS), "the body and its end are over");
        assertTrue(log.get(0).updates().isEmpty(), log.get(0).toString());
    }
}
