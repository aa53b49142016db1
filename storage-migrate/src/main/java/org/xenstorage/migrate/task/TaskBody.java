package org.xenstorage.migrate.task;

import java.util.Optional;
import org.xenstorage.idl.types.AsyncResult;

/** The work a storage task does; see {@link TaskLauncher} for how its outcome becomes a task state. */
@FunctionalInterface
public interface TaskBody {

    /**
     * Runs the task.
     *
     * @return the {@code async_result} to report in {@code Completed}, or empty for none
     * @throws Exception a {@link org.xenstorage.idl.errors.StorageException} to fail with that error,
     *                   anything else to fail with {@code Internal_error}
     */
    Optional<AsyncResult> run(TaskContext ctx) throws Exception;
}
