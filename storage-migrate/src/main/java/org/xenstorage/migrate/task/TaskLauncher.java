package org.xenstorage.migrate.task;

/**
 * Starts storage tasks: the seam between the migration code (which knows what a copy does) and the
 * TASK table (which knows ids, {@code TASK.stat}/{@code TASK.cancel} and, through its signal, the UPDATES
 * log). The one implementation is {@link TaskTable}, which the daemon serves as {@code TASK.*}.
 *
 * <p>Contract for implementations (spec wrapper-mux 4.1/4.2):
 * <ul>
 *   <li>{@link #launch} creates the task in state {@code Pending 0.0}, starts {@code body} on its own
 *       thread and returns the task id at once (before the body has necessarily started).</li>
 *   <li>When the body returns {@code Optional<AsyncResult>} the task becomes
 *       {@code Completed{duration, result}}; when it throws a
 *       {@link org.xenstorage.idl.errors.StorageException} the task becomes {@code Failed(<that error>)};
 *       any other throwable becomes {@code Failed(Internal_error(<text>))}.</li>
 *   <li>Every state change (progress and completion) signals {@code ["Task", id]} on the update log.</li>
 *   <li>{@code TASK.cancel} sets the flag read by {@link TaskContext#cancelRequested()} and runs the
 *       callbacks registered with {@link TaskContext#onCancel(Runnable)}, outside any task lock.</li>
 * </ul>
 */
public interface TaskLauncher {

    /**
     * Creates a task and runs {@code body} asynchronously.
     *
     * @param dbg         the caller's debug string (recorded as the task's {@code dbg})
     * @param description short human text for logs, e.g. {@code "DATA.copy sr1/vdi2 -> sr3"}
     * @param body        the work; receives the task's context
     * @return the new task's id
     */
    String launch(String dbg, String description, TaskBody body);
}
