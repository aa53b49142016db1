package org.xenstorage.idl.api;

import java.util.List;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.TaskInfo;

/**
 * SMAPIv2 {@code TASK}: long-running storage tasks.
 * Every method may throw {@link StorageException}; each one's default body answers {@code Unimplemented}
 * with its wire name, so an implementation overrides only the calls it serves.
 */
public interface TaskApi {
    /**
     * {@code TASK.stat}.
     */
    @RpcMethod("TASK.stat")
    default TaskInfo stat(@Param("dbg") String dbg, @Param("task") String task) {
        throw StorageException.unimplemented("TASK.stat");
    }

    /**
     * {@code TASK.cancel}: request cancellation
     */
    @RpcMethod("TASK.cancel")
    default void cancel(@Param("dbg") String dbg, @Param("task") String task) {
        throw StorageException.unimplemented("TASK.cancel");
    }

    /**
     * {@code TASK.destroy}: forget a finished task
     */
    @RpcMethod("TASK.destroy")
    default void destroy(@Param("dbg") String dbg, @Param("task") String task) {
        throw StorageException.unimplemented("TASK.destroy");
    }

    /**
     * {@code TASK.list}.
     */
    @RpcMethod("TASK.list")
    default List<TaskInfo> list(@Param("dbg") String dbg) {
        throw StorageException.unimplemented("TASK.list");
    }
}
