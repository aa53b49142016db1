package org.xenstorage.migrate.task;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;
import org.xenstorage.idl.api.TaskApi;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.rpc.StorageDispatcher;
import org.xenstorage.idl.types.AsyncResult;
import org.xenstorage.idl.types.TaskCompletion;
import org.xenstorage.idl.types.TaskInfo;
import org.xenstorage.idl.types.TaskState;
import org.xenstorage.idl.wire.WireCodec;

/**
 * The task table behind {@code TASK.*} (upstream {@code Task_server}; spec wrapper-mux 4.1-4.3, 4.6): the
 * one {@link TaskLauncher} and {@link TaskApi} of the project, used by the daemon (process-wide, wired to
 * its UPDATES log) and by this module's tests.
 *
 * <ul>
 *   <li>Ids count from {@code "0"}; tasks live in memory only; {@code TASK.list} is in string order of
 *       ids; an unknown id is {@code Does_not_exist(task, id)}.</li>
 *   <li>Every state change (progress and the end) is passed to {@code changed} with the task's id;
 *       {@code TASK.destroy} passes the id to {@code destroyed}. Both run under one table lock, with the
 *       check that the task still exists, so a destroyed task is never signalled afterwards (a signal
 *       cannot slip between a destroy's removal and its {@code destroyed} call). The callbacks must
 *       therefore be quick and must not wait for another thread that signals.</li>
 *   <li>Cancellation is cooperative: {@code TASK.cancel} sets the flag seen at the next cancellation
 *       point and runs the callbacks the body registered, outside any lock. A finished task, or one that
 *       called {@link Task#prohibitCancellation()}, is left alone without error.</li>
 *   <li>A body runs on the {@code runner} with the launching thread's MDC (log context).</li>
 * </ul>
 */
public final class TaskTable implements TaskApi, TaskLauncher {
    private static final Logger LOG = LoggerFactory.getLogger(TaskTable.class);

    private final Map<String, Task> tasks = new ConcurrentHashMap<>();
    private final AtomicLong nextId = new AtomicLong(0);
    private final Object signalLock = new Object();
    private final Consumer<String> changed;
    private final Consumer<String> destroyed;
    private final Executor runner;

    /**
     * @param changed   called with a task's id whenever that task's state changes (the daemon adds
     *                  {@code Task id} to its UPDATES log); never for a task already destroyed
     * @param destroyed called with a task's id when {@code TASK.destroy} forgets it (the daemon removes
     *                  the task's update)
     * @param runner    runs task bodies (one thread each while they run); its owner shuts it down
     */
    public TaskTable(Consumer<String> changed, Consumer<String> destroyed, Executor runner) {
        this.changed = changed;
        this.destroyed = destroyed;
        this.runner = runner;
    }

    /** Creates a {@code Pending 0.0} task, runs {@code body} on the runner and returns the id at once. */
    @Override
    public String launch(String dbg, String description, TaskBody body) {
        Task task = new Task(Long.toString(nextId.getAndIncrement()), logPart(dbg));
        tasks.put(task.id, task);
        LOG.info("task {} for {}", task.id, description);
        Map<String, String> mdc = MDC.getCopyOfContextMap();
        runner.execute(() -> {
            if (mdc != null) {
                MDC.setContextMap(mdc);
            }
            try {
                run(task, description, body);
            } finally {
                MDC.clear();
            }
        });
        return task.id;
    }

    /** Runs the body on the calling thread, records Completed or Failed (never leaves it Pending), signals. */
    private void run(Task task, String description, TaskBody body) {
        TaskState end;
        try {
            end = outcome(task, description, body);
        } catch (RuntimeException | Error e) { // recording the outcome itself failed
            LOG.error("task {} ({}): could not record its outcome", task.id, description, e);
            end = new TaskState.Failed(JsonNodeFactory.instance.arrayNode()
                    .add("Internal_error").add("task outcome could not be recorded: " + e));
        }
        task.finish(end);
        try {
            signal(task.id);
        } catch (RuntimeException e) { // the outcome is recorded; TASK.stat shows it
            LOG.warn("task {}: signalling its end failed", task.id, e);
        }
    }

    private static TaskState outcome(Task task, String description, TaskBody body) {
        long start = System.nanoTime();
        try {
            Optional<AsyncResult> result = body.run(task);
            return new TaskState.Completed(new TaskCompletion((System.nanoTime() - start) / 1e9, result));
        } catch (Throwable t) { // any bug in a body must still end the task, as upstream does
            StorageError error = StorageDispatcher.errorOf(t);
            LOG.info("task {} ({}) failed: {}", task.id, description, error);
            return new TaskState.Failed(WireCodec.encode(error, StorageError.class));
        }
    }

    /** Passes {@code id} to {@code changed} if the task still exists. */
    private void signal(String id) {
        synchronized (signalLock) { // so a destroy cannot slip between the check and the signal
            if (tasks.containsKey(id)) {
                changed.accept(id);
                return;
            }
        }
        LOG.debug("task {} signalled after it was destroyed", id);
    }

    /** The task, or {@code Does_not_exist(task, id)}. */
    private Task find(String id) {
        Task t = tasks.get(id);
        if (t == null) {
            throw new StorageException(new StorageError.DoesNotExist("task", id));
        }
        return t;
    }

    @Override
    public TaskInfo stat(String dbg, String task) {
        return find(task).info();
    }

    @Override
    public void cancel(String dbg, String task) {
        find(task).cancel();
    }

    @Override
    public void destroy(String dbg, String task) {
        synchronized (signalLock) {
            if (tasks.remove(task) == null) {
                throw new StorageException(new StorageError.DoesNotExist("task", task));
            }
            destroyed.accept(task);
        }
    }

    @Override
    public List<TaskInfo> list(String dbg) {
        List<Task> all = new ArrayList<>(tasks.values());
        all.sort(Comparator.comparing(t -> t.id)); // string order, as upstream
        return all.stream().map(Task::info).toList();
    }

    /** Only the log part of a dbg ({@code "<text>\n<trace context>"}) names the task. */
    private static String logPart(String dbg) {
        int nl = dbg.indexOf('\n');
        return nl < 0 ? dbg : dbg.substring(0, nl);
    }

    /** One task, and its body's {@link TaskContext}. Its mutable fields are guarded by the task itself. */
    public final class Task implements TaskContext {
        private final String id;
        private final String dbg;
        private final double ctime = System.currentTimeMillis() / 1000.0;
        private TaskState state = new TaskState.Pending(0.0);
        private final LinkedHashMap<String, TaskState> subtasks = new LinkedHashMap<>();
        private final Deque<Runnable> cancelCallbacks = new ArrayDeque<>();
        private boolean cancelling;
        private boolean cancellable = true;
        private long cancelPointsSeen;

        private Task(String id, String dbg) {
            this.id = id;
            this.dbg = dbg;
        }

        @Override
        public String taskId() {
            return id;
        }

        /** Sets {@code Pending(progress)} (clamped to 0..1) and signals it; a finished task is left alone. */
        @Override
        public void progress(double fraction) {
            synchronized (this) {
                if (!(state instanceof TaskState.Pending)) {
                    return;
                }
                state = new TaskState.Pending(Math.max(0.0, Math.min(1.0, fraction)));
            }
            signal(id);
        }

        @Override
        public synchronized boolean cancelRequested() {
            return cancelling;
        }

        /** A cancellation point: {@code Cancelled(id)} once a cancel was asked for. */
        @Override
        public synchronized void checkCancelled() {
            cancelPointsSeen++;
            if (cancelling) {
                throw new StorageException(new StorageError.Cancelled(id));
            }
        }

        @Override
        public CancelRegistration onCancel(Runnable callback) {
            boolean now;
            synchronized (this) {
                now = cancelling;
                if (!now) {
                    cancelCallbacks.push(callback);
                }
            }
            if (now) {
                callback.run();
            }
            return () -> {
                synchronized (this) {
                    cancelCallbacks.remove(callback);
                }
            };
        }

        /**
         * Runs {@code body} with {@code onCancel} registered: a cancel during the body calls it. A cancel
         * asked for before calls it at once and raises {@code Cancelled(id)} without running the body.
         */
        public <T> T withCancel(Runnable onCancel, Callable<T> body) throws Exception {
            synchronized (this) {
                try {
                    checkCancelled();
                } catch (StorageException e) {
                    onCancel.run();
                    throw e;
                }
                cancelCallbacks.push(onCancel);
            }
            try {
                checkCancelled();
                return body.call();
            } finally {
                synchronized (this) {
                    cancelCallbacks.remove(onCancel);
                }
            }
        }

        /** Runs {@code body} as a named subtask recorded in the task's {@code subtasks}. */
        public <T> T withSubtask(String name, Callable<T> body) throws Exception {
            long start = System.nanoTime();
            synchronized (this) {
                putSubtaskFirst(name, new TaskState.Pending(0.0));
            }
            try {
                T value = body.call();
                synchronized (this) {
                    subtasks.put(name, new TaskState.Completed(
                            new TaskCompletion((System.nanoTime() - start) / 1e9, Optional.empty())));
                }
                return value;
            } catch (Exception e) {
                synchronized (this) {
                    subtasks.put(name, new TaskState.Failed(
                            WireCodec.encode(StorageDispatcher.errorOf(e), StorageError.class)));
                }
                throw e;
            }
        }

        private void putSubtaskFirst(String name, TaskState s) {
            LinkedHashMap<String, TaskState> copy = new LinkedHashMap<>(subtasks);
            copy.remove(name);
            subtasks.clear();
            subtasks.put(name, s);
            subtasks.putAll(copy);
        }

        /** After this, cancel requests are ignored (a cancellation point first). */
        public synchronized void prohibitCancellation() {
            checkCancelled();
            cancellable = false;
        }

        /** Records the end; callbacks still registered can no longer matter. */
        private synchronized void finish(TaskState end) {
            state = end;
            cancelCallbacks.clear();
        }

        /** Cooperative cancel; a task that is not cancellable, or has finished, is left alone without error. */
        private void cancel() {
            List<Runnable> callbacks;
            synchronized (this) {
                if (!cancellable) {
                    LOG.info("task {} is not cancellable", id);
                    return;
                }
                if (!(state instanceof TaskState.Pending)) {
                    return; // finished: nothing left to cancel
                }
                cancelling = true;
                callbacks = new ArrayList<>(cancelCallbacks);
            }
            for (Runnable r : callbacks) { // outside the task lock: a callback may block
                try {
                    r.run();
                } catch (RuntimeException e) {
                    LOG.warn("cancel callback of task {} failed", id, e);
                }
            }
        }

        private synchronized TaskInfo info() {
            return new TaskInfo(id, dbg, ctime, state, new LinkedHashMap<>(subtasks),
                    Map.of("cancel_points_seen", Long.toString(cancelPointsSeen)), "()", cancellable);
        }
    }
}
