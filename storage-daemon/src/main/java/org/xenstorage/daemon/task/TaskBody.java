package org.xenstorage.daemon.task;

import java.util.Optional;
import org.xenstorage.idl.types.AsyncResult;

/** The work of a task: runs on its own thread, reports through {@link TaskHandle}, returns its result. */
@FunctionalInterface
public interface TaskBody {
    Optional<AsyncResult> run(TaskHandle task) throws Exception;
}
