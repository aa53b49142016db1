package org.xenstorage.idl.types;

import java.util.Map;
import java.util.Objects;
import org.xenstorage.idl.wire.WireDefault;

/** {@code Task.t}: a storage task as {@code TASK.stat} reports it. */
public record TaskInfo(String id, String dbg, double ctime, TaskState state, Map<String, TaskState> subtasks,
                       Map<String, String> debugInfo, String backtrace, @WireDefault("false") boolean cancellable) {
    public TaskInfo {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(dbg, "dbg");
        Objects.requireNonNull(state, "state");
        subtasks = Copies.map(subtasks);
        debugInfo = Copies.map(debugInfo);
        Objects.requireNonNull(backtrace, "backtrace");
    }
}
