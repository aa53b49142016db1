package org.xenstorage.daemon.task;

import java.util.concurrent.Executor;
import org.xenstorage.daemon.updates.UpdateLog;
import org.xenstorage.idl.types.DynamicId;
import org.xenstorage.migrate.task.TaskTable;

/**
 * The daemon's process-wide task table behind {@code TASK.*}: storage-migrate's {@link TaskTable} wired to
 * the {@link UpdateLog}, so every task change is the update {@code Task id} and {@code TASK.destroy}
 * removes the task's update (the table serialises both, so a destroyed task's update never comes back).
 */
public final class DaemonTasks {
    private DaemonTasks() {
    }

    /**
     * @param updates where task changes are signalled
     * @param runner  runs task bodies (one thread each while they run)
     */
    public static TaskTable table(UpdateLog updates, Executor runner) {
        return new TaskTable(id -> updates.add(new DynamicId.Task(id)), id -> updates.remove(new DynamicId.Task(id)),
                runner);
    }
}
