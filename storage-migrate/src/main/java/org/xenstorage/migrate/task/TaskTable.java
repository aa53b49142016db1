package org.xenstorage.migrate.task;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.idl.api.TaskApi;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.AsyncResult;
import org.xenstorage.idl.types.TaskCompletion;
import org.xenstorage.idl.types.TaskInfo;
import org.xenstorage.idl.types.TaskState;
import org.xenstorage.idl.wire.WireCodec;

/**
 * An in-process TASK table (spec wrapper-mux 4.1-4.3): a {@link TaskLauncher} whose tasks
 * {@code TASK.stat/cancel/destroy/list} can see. Ids count up from {@code "0"}; tasks are not
 * persisted. Every state change is passed to the {@code signal} callback (the UPDATES log's
 * {@code add(Task id)}), except for tasks already destroyed.
 *
 * <p>The daemon may keep its own table; this one serves {@code storage-migrate}'s tests and any
 * embedding that has no other.
 */
public final class TaskTable implements TaskLauncher, TaskApi, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TaskTable.class);

    private final Map<String, Task> tasks = new ConcurrentHashMap<>();
    private final AtomicLong nextId = new AtomicLong();
    private final Consumer<String> signal;
    private final ExecutorService workers;

    /** @param signal called with a task id whenever that task's state changes */
    public TaskTable(Consumer<String> signal) {
        this.signal = signal;
        AtomicInteger n = new AtomicInteger();
        this.workers = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "storage-task-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    @Override
    public String launch(String dbg, String description, TaskBody body) {
        String id = Long.toString(nextId.getAndIncrement());
        Task task = new Task(id, dbg, System.currentTimeMillis() / 1000.0);
        tasks.put(id, task);
        workers.execute(() -> run(task, description, body));
        return id;
    }

    private void runBody(Task task, String description, TaskBody body) {
        long start = System.nanoTime();
        TaskState end;
        try {
            Optional<AsyncResult> result = body.run(task);
            end = new TaskState.Completed(new TaskCompletion((System.nanoTime() - start) / 1e9, result));
        } catch (StorageException e) {
            LOG.info("task {} ({}) failed: {}", task.id, description, e.getMessage());
            end = new TaskState.Failed(encode(e.error()));
        } catch (Throwable e) { // any bug in a body must still end the task, as upstream does
            LOG.warn("task {} ({}) failed", task.id, description, e);
            end = new TaskState.Failed(encode(new StorageError.InternalError(String.valueOf(e))));
        }
        task.finish(end);
        signalIfKnown(task.id);
    }

    private void run(Task task, String description, TaskBody body) {
        try {
            runBody(task, description, body);
        } catch (RuntimeException | Error e) { // recording the outcome itself failed: never leave it Pending
            LOG.error("task {} ({}): could not record its outcome", task.id, description, e);
            task.finish(new TaskState.Failed(com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.arrayNode()
                    .add("Internal_error").add("task outcome could not be recorded: " + e)));
            signalIfKnown(task.id);
        }
    }

    private static JsonNode encode(StorageError error) {
        return WireCodec.encode(error, StorageError.class);
    }

    private void signalIfKnown(String id) {
        if (tasks.containsKey(id)) {
            signal.accept(id);
        }
    }

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
        find(task).requestCancel();
    }

    @Override
    public void destroy(String dbg, String task) {
        find(task);
        tasks.remove(task);
    }

    @Override
    public List<TaskInfo> list(String dbg) {
        List<TaskInfo> all = new ArrayList<>();
        tasks.values().forEach(t -> all.add(t.info()));
        all.sort(Comparator.comparing(TaskInfo::id)); // string order, as upstream
        return all;
    }

    @Override
    public void close() {
        workers.shutdownNow();
    }

    /** One task's mutable record; also the body's {@link TaskContext}. */
    private final class Task implements TaskContext {
        final String id;
        final String dbg;
        final double ctime;
        volatile TaskState state = new TaskState.Pending(0.0);
        volatile boolean cancelling;
        final AtomicLong cancelPoints = new AtomicLong();
        final List<Runnable> callbacks = new CopyOnWriteArrayList<>();

        Task(String id, String dbg, double ctime) {
            this.id = id;
            this.dbg = dbg;
            this.ctime = ctime;
        }

        TaskInfo info() {
            Map<String, String> debug = new LinkedHashMap<>();
            debug.put("cancel_points_seen", Long.toString(cancelPoints.get()));
            return new TaskInfo(id, dbg, ctime, state, Map.of(), debug, "()", true);
        }

        synchronized void finish(TaskState end) {
            state = end;
            callbacks.clear();
        }

        void requestCancel() {
            List<Runnable> toRun;
            synchronized (this) {
                if (!(state instanceof TaskState.Pending)) {
                    return; // finished: nothing left to cancel
                }
                cancelling = true;
                toRun = List.copyOf(callbacks);
            }
            for (Runnable r : toRun) { // outside the lock, as upstream
                try {
                    r.run();
                } catch (RuntimeException e) {
                    LOG.warn("cancel callback of task {} failed", id, e);
                }
            }
        }

        @Override
        public String taskId() {
            return id;
        }

        @Override
        public void progress(double fraction) {
            double p = Math.max(0.0, Math.min(1.0, fraction));
            synchronized (this) {
                if (state instanceof TaskState.Pending) {
                    state = new TaskState.Pending(p);
                }
            }
            signalIfKnown(id);
        }

        @Override
        public boolean cancelRequested() {
            return cancelling;
        }

        @Override
        public void checkCancelled() {
            cancelPoints.incrementAndGet();
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
                    callbacks.add(callback);
                }
            }
            if (now) {
                callback.run();
            }
            return () -> callbacks.remove(callback);
        }
    }
}
