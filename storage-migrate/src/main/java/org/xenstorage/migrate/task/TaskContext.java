package org.xenstorage.migrate.task;

/**
 * What a running {@link TaskBody} may do with its own task: report progress and cooperate with
 * cancellation (spec wrapper-mux 4.2). Implementations are thread-safe.
 */
public interface TaskContext {

    /** The task's id, as returned by {@link TaskLauncher#launch}. */
    String taskId();

    /**
     * Sets the task to {@code Pending(fraction)} (clamped to 0..1) and signals it on the update log.
     * Callers should throttle (the copy reports on every step of at least 1%).
     */
    void progress(double fraction);

    /** True once {@code TASK.cancel} has been called on this task. */
    boolean cancelRequested();

    /**
     * A cancellation point: throws {@code StorageException(Cancelled(taskId))} if cancellation was
     * requested, else returns.
     */
    void checkCancelled();

    /**
     * Registers {@code callback} to run (once) when the task is cancelled, e.g. to kill a child
     * process or close a channel a blocked thread is reading. If cancellation was already requested
     * the callback runs at once. Close the returned registration when the guarded work is over.
     */
    CancelRegistration onCancel(Runnable callback);

    /** Removes a callback registered with {@link #onCancel}; closing twice is harmless. */
    interface CancelRegistration extends AutoCloseable {
        @Override
        void close();
    }
}
