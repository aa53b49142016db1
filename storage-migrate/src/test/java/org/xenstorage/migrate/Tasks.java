package org.xenstorage.migrate;

import static org.junit.jupiter.api.Assertions.fail;

import org.xenstorage.idl.api.TaskApi;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.types.TaskInfo;
import org.xenstorage.idl.types.TaskState;
import org.xenstorage.idl.wire.WireCodec;

/** Test helpers for waiting on storage tasks. */
public final class Tasks {
    private Tasks() {
    }

    /** Polls TASK.stat until the task leaves Pending (at most {@code seconds}). */
    public static TaskInfo await(TaskApi tasks, String id, int seconds) throws InterruptedException {
        long deadline = System.nanoTime() + seconds * 1_000_000_000L;
        while (System.nanoTime() < deadline) {
            TaskInfo t = tasks.stat("test", id);
            if (!(t.state() instanceof TaskState.Pending)) {
                return t;
            }
            Thread.sleep(20);
        }
        fail("task " + id + " still pending after " + seconds + " s: " + tasks.stat("test", id));
        return null;
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
