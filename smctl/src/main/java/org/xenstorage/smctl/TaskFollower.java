package org.xenstorage.smctl;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.DynamicId;
import org.xenstorage.idl.types.TaskInfo;
import org.xenstorage.idl.types.TaskState;
import org.xenstorage.idl.types.UpdatesResult;

/**
 * Follows a storage task to its end as xapi does: long-poll {@code UPDATES.get} from the last token, and
 * {@code TASK.stat} the task whenever it shows up among the changes (or a poll times out). A daemon that
 * does not implement UPDATES is polled with {@code TASK.stat} alone.
 */
final class TaskFollower {
    private static final Logger LOG = LoggerFactory.getLogger(TaskFollower.class);
    /** Seconds one UPDATES.get may block in the daemon before answering "nothing new". */
    static final int POLL_SECONDS = 5;
    private static final long FALLBACK_SLEEP_MS = 500;
    private static final long MIN_EMPTY_POLL_NANOS = 1_000_000_000L;

    private final Session session;
    private final ProgressDisplay display;
    private final LongSupplier nanoTime;

    TaskFollower(Session session, ProgressDisplay display, LongSupplier nanoTime) {
        this.session = session;
        this.display = display;
        this.nanoTime = nanoTime;
    }

    /** The task's record once it is no longer pending (Completed or Failed). */
    TaskInfo follow(String taskId, long startNanos) {
        StorageService storage = session.storage();
        StorageService polling = session.storage(Duration.ofSeconds(POLL_SECONDS));
        String dbg = session.options().dbg();
        String token = "";
        boolean useUpdates = true;
        TaskInfo info = storage.task().stat(dbg, taskId);
        while (info.state() instanceof TaskState.Pending p) {
            display.update(p.progress(), elapsed(startNanos));
            boolean changed = true;
            if (useUpdates) {
                try {
                    long polled = nanoTime.getAsLong();
                    CompletableFuture<UpdatesResult> poll = polling.updates().get(dbg, token,
                            Optional.of(POLL_SECONDS));
                    UpdatesResult r = Session.await(poll,
                            session.options().timeout().plusSeconds(POLL_SECONDS + 5L));
                    token = r.next();
                    changed = r.ids().isEmpty() || r.ids().contains(new DynamicId.Task(taskId));
                    if (r.ids().isEmpty() && nanoTime.getAsLong() - polled < MIN_EMPTY_POLL_NANOS) {
                        // "nothing new" long before the poll's timeout: a daemon that does not block; do not spin
                        sleep();
                    }
                } catch (StorageException e) {
                    if (!isUnimplemented(e.error())) {
                        throw e;
                    }
                    LOG.warn("the daemon has no UPDATES ({}); polling TASK.stat instead", ErrorText.of(e.error()));
                    useUpdates = false;
                }
            }
            if (!useUpdates) {
                sleep();
            }
            if (changed) {
                info = storage.task().stat(dbg, taskId);
            }
        }
        display.finish(info.state() instanceof TaskState.Completed, elapsed(startNanos));
        return info;
    }

    Duration elapsed(long startNanos) {
        return Duration.ofNanos(nanoTime.getAsLong() - startNanos);
    }

    private static boolean isUnimplemented(StorageError e) {
        return e instanceof StorageError.Unimplemented
                || e instanceof StorageError.InternalError ie && ie.message().contains("UnknownMethod");
    }

    private static void sleep() {
        try {
            Thread.sleep(FALLBACK_SLEEP_MS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StorageException(new StorageError.InternalError("interrupted while waiting for the task"));
        }
    }
}
