package org.xenstorage.daemon.task;

import java.util.concurrent.Callable;

/** What a running task body may do: report progress, meet cancellation points, run sub-steps. */
public interface TaskHandle {
    String id();

    /** Sets {@code Pending(progress)} and signals the change to {@code UPDATES.get} pollers. */
    void setProgress(double progress);

    /**
     * A cancellation point.
     *
     * @throws org.xenstorage.idl.errors.StorageException {@code Cancelled(id)} when a cancel was asked for
     */
    void checkCancelling();

    /** Runs {@code body} with {@code onCancel} registered: a cancel during the body calls it (e.g. to kill a child). */
    <T> T withCancel(Runnable onCancel, Callable<T> body) throws Exception;

    /** Runs {@code body} as a named subtask recorded in the task's {@code subtasks}. */
    <T> T withSubtask(String name, Callable<T> body) throws Exception;

    /** After this, cancel requests are ignored (a cancellation point first). */
    void prohibitCancellation();
}
