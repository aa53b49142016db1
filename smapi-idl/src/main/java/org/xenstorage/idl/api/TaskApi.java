package org.xenstorage.idl.api;

import java.util.List;
import org.xenstorage.idl.types.TaskInfo;

/**
 * SMAPIv2 {@code TASK}: long-running storage tasks.
 * Every method may throw {@link org.xenstorage.idl.errors.StorageException}.
 */
public interface TaskApi {
    /**
     * {@code TASK.stat}.
     */
    @RpcMethod("TASK.stat")
    TaskInfo stat(@Param("dbg") String dbg, @Param("task") String task);

    /**
     * {@code TASK.cancel}: request cancellation
     */
    @RpcMethod("TASK.cancel")
    void cancel(@Param("dbg") String dbg, @Param("task") String task);

    /**
     * {@code TASK.destroy}: forget a finished task
     */
    @RpcMethod("TASK.destroy")
    void destroy(@Param("dbg") String dbg, @Param("task") String task);

    /**
     * {@code TASK.list}.
     */
    @RpcMethod("TASK.list")
    List<TaskInfo> list(@Param("dbg") String dbg);
}
