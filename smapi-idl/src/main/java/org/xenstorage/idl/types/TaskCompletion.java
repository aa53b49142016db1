package org.xenstorage.idl.types;

import java.util.Objects;
import java.util.Optional;

/** {@code Task.completion_t}: how long a task ran (seconds) and its result, if any. */
public record TaskCompletion(double duration, Optional<AsyncResult> result) {
    public TaskCompletion {
        Objects.requireNonNull(result, "result");
    }
}
