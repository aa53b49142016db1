package org.xenstorage.idl.types;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.NullNode;
import java.util.Objects;

/** {@code Task.state}. */
public sealed interface TaskState {
    /** Running, with progress between 0 and 1. */
    record Pending(double progress) implements TaskState {
    }

    /** Finished successfully. */
    record Completed(TaskCompletion completion) implements TaskState {
        public Completed {
            Objects.requireNonNull(completion);
        }
    }

    /**
     * Failed; the argument is any JSON (rpclib's abstract {@code Rpc.t}), in practice an encoded
     * {@code StorageError}. A null argument is written as the bare tag {@code "Failed"}.
     */
    record Failed(JsonNode error) implements TaskState {
        public Failed {
            error = error == null ? NullNode.getInstance() : error;
        }
    }
}
