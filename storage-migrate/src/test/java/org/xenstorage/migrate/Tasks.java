package org.xenstorage.migrate;

import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import org.xenstorage.idl.api.TaskApi;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.types.TaskInfo;
import org.xenstorage.idl.types.TaskState;
import org.xenstorage.idl.wire.WireCodec;
import org.xenstorage.testing.Soon;

/** Test helpers for waiting on storage tasks. */
public final class Tasks {
    private Tasks() {
    }

    /** Polls TASK.stat until the task leaves Pending (at most {@link Soon#timeout()}). */
    public static TaskInfo await(TaskApi tasks, String id) throws InterruptedException {
        return await(tasks, id, Soon.timeout());
    }

    /** As {@link #await(TaskApi, String)} for a longer job (a multiple of {@link Soon#timeout()}). */
    public static TaskInfo await(TaskApi tasks, String id, Duration bound) throws InterruptedException {
        AtomicReference<TaskInfo> last = new AtomicReference<>();
        try {
            Soon.await("task " + id + " leaves Pending", bound, () -> {
                last.set(tasks.stat("test", id));
                return !(last.get().state() instanceof TaskState.Pending);
            });
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "; last seen: " + last.get(), e);
        }
        return last.get();
    }

    /** The error a Failed task carries. */
    public static StorageError error(TaskInfo t) {
        if (!(t.state() instanceof TaskState.Failed f)) {
            fail("expected a failed task, got " + t.state());
            return null;
        }
        return WireCodec.decode(f.error(), StorageError.class);
    }
}
