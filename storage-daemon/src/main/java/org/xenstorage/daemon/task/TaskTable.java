package org.xenstorage.daemon.task;

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
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;
import org.xenstorage.daemon.updates.UpdateLog;
import org.xenstorage.idl.api.TaskApi;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.rpc.StorageDispatcher;
import org.xenstorage.idl.types.AsyncResult;
import org.xenstorage.idl.types.DynamicId;
import org.xenstorage.idl.types.TaskCompletion;
import org.xenstorage.idl.types.TaskInfo;
import org.xenstorage.idl.types.TaskState;
import org.xenstorage.idl.wire.WireCodec;
import org.xenstorage.migrate.task.TaskBody;
import org.xenstorage.migrate.task.TaskContext;
import org.xenstorage.migrate.task.TaskLauncher;

/**
 * The process-wide task table behind {@code TASK.*} (upstream {@code Task_server}): ids count from 0,
 * tasks live in memory only, every state change is signalled into the {@link UpdateLog} as {@code Task id}.
 * Cancellation is cooperative: a cancel sets a flag seen at the next cancellation point and runs the
 * callbacks the body registered. It is the {@link TaskLauncher} storage-migrate runs {@code DATA.copy} with.
 */
public final class TaskTable implements TaskApi, TaskLauncher {
    private static final Logger LOG = LoggerFactory.getLogger(TaskTable.class);

    private final Map<String, Task> tasks = new ConcurrentHashMap<>();
    private final AtomicLong nextId = new AtomicLong(0);
    private final Object signalLock = new Object();
    private final UpdateLog updates;
    private final Executor runner;

    /**
     * @param updates where task changes are signalled
     * @param runner  runs task bodies (one thread each while they run)
     */
    public TaskTable(UpdateLog updates, Executor runner) {
        this.updates = updates;
        this.runner = runner;
    }

    /** Creates a task, runs {@code body} on the runner and returns the id at once. */
    @Override
    public String launch(String dbg, String description, TaskBody body) {
        LOG.info("task for {}", description);
        return launch(dbg, body);
    }

    /** Creates a task, runs {@code body} on the runner and returns the id at once. */
    public String launch(String dbg, TaskBody body) {
        Task task = add(dbg);
        Map<String, String> mdc = MDC.getCopyOfContextMap();
        runner.execute(() -> {
            if (mdc != null) {
                MDC.setContextMap(mdc);
            }
            try {
                run(task, body);
            } finally {
                MDC.clear();
            }
        });
        return task.id;
    }

    /** Creates a {@code Pending 0.0} task without running anything. */
    public Task add(String dbg) {
        String id = Long.toString(nextId.getAndIncrement());
        Task t = new Task(id, logPart(dbg));
        tasks.put(id, t);
        return t;
    }

    /** Runs the body on the calling thread, records Completed or Failed, then signals. */
    public void run(Task task, TaskBody body) {
        long start = System.nanoTime();
        TaskState end;
        try {
            Optional<AsyncResult> result = body.run(task);
            end = new TaskState.Completed(new TaskCompletion((System.nanoTime() - start) / 1e9, result));
        } catch (Throwable t) {
            StorageError error = StorageDispatcher.errorOf(t);
            LOG.info("task {} failed: {}", task.id, error);
            end = new TaskState.Failed(WireCodec.encode(error, StorageError.class));
        }
        task.setState(end);
        signal(task.id);
    }

    /** Adds {@code Task id} to the update log if the task still exists. */
    public void signal(String id) {
        synchronized (signalLock) { // so a destroy cannot slip between the check and the add
            if (tasks.containsKey(id)) {
                updates.add(new DynamicId.Task(id));
                return;
            }
        }
        LOG.debug("task {} signalled after it was destroyed", id);
    }

    /** The task, or {@code Does_not_exist(task, id)}. */
    public Task find(String id) {
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
            updates.remove(new DynamicId.Task(task));
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

    /** One task. Its mutable fields are guarded by the task itself. */
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

        public String id() {
            return id;
        }

        @Override
        public String taskId() {
            return id;
        }

        @Override
        public void progress(double fraction) {
            setProgress(fraction);
        }

        @Override
        public synchronized boolean cancelRequested() {
            return cancelling;
        }

        @Override
        public void checkCancelled() {
            checkCancelling();
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

        synchronized TaskState state() {
            return state;
        }

        synchronized void setState(TaskState s) {
            state = s;
        }

        /** Sets {@code Pending(progress)} and signals the change to {@code UPDATES.get} pollers. */
        public void setProgress(double progress) {
            synchronized (this) {
                if (!(state instanceof TaskState.Pending)) {
                    return;
                }
                state = new TaskState.Pending(Math.max(0.0, Math.min(1.0, progress)));
            }
            signal(id);
        }

        /** A cancellation point: {@code Cancelled(id)} once a cancel was asked for. */
        public synchronized void checkCancelling() {
            cancelPointsSeen++;
            if (cancelling) {
                throw new StorageException(new StorageError.Cancelled(id));
            }
        }

        /** Runs {@code body} with {@code onCancel} registered: a cancel during the body calls it. */
        public <T> T withCancel(Runnable onCancel, Callable<T> body) throws Exception {
            synchronized (this) {
                try {
                    checkCancelling();
                } catch (StorageException e) {
                    onCancel.run();
                    throw e;
                }
                cancelCallbacks.push(onCancel);
            }
            try {
                checkCancelling();
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
            checkCancelling();
            cancellable = false;
        }

        /** Cooperative cancel; a task that is not cancellable, or has finished, is left alone without error. */
        void cancel() {
            List<Runnable> callbacks;
            synchronized (this) {
                if (!cancellable) {
                    LOG.info("task {} is not cancellable", id);
                    return;
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

        synchronized TaskInfo info() {
            return new TaskInfo(id, dbg, ctime, state, new LinkedHashMap<>(subtasks),
                    Map.of("cancel_points_seen", Long.toString(cancelPointsSeen)), "()", cancellable);
        }
    }
}
