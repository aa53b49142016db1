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
        for (int i = 0; i < 500; i++) {
            TaskState s = tasks.stat("t", id).state();
            if (!(s instanceof TaskState.Pending)) {
                return s;
            }
            Thread.sleep(10);
        }
        throw new AssertionError("task " + id + " did not end");
    }

    /** The end is signalled just after it is recorded: wait until the log has an update. */
    List<DynamicId> awaitUpdates() throws InterruptedException {
        for (int i = 0; i < 500 && log.get(0).updates().isEmpty(); i++) {
            Thread.sleep(10);
        }
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
            release.await(10, TimeUnit.SECONDS);
            ctx.progress(0.5);
            return Optional.empty();
        });
        assertTrue(inside.await(5, TimeUnit.SECONDS));
        assertEquals(List.of(new DynamicId.Task(id)), log.get(0).updates());
        tasks.destroy("d", id);
        assertTrue(log.get(0).updates().isEmpty());
        release.countDown();
        runner.shutdown();
        assertTrue(runner.awaitTermination(10, TimeUnit.SECONDS), "the body and its end are over");
        assertTrue(log.get(0).updates().isEmpty(), log.get(0).toString());
    }
}
