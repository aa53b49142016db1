package org.xenstorage.smapiv3.idl;

import java.util.List;
import java.util.Objects;

/**
 * The error object a failing script prints: {@code {"code", "params", "backtrace"}}, all required,
 * params strings only.
 */
public record ScriptError(String code, List<String> params, Backtrace backtrace) {
    public ScriptError {
        Objects.requireNonNull(code, "code");
        params = List.copyOf(params);
        Objects.requireNonNull(backtrace, "backtrace");
    }

    /** Where the script failed; re-serialised in the member order error, files, lines. */
    public record Backtrace(String error, List<String> files, List<Long> lines) {
        public Backtrace {
            Objects.requireNonNull(error, "error");
            files = List.copyOf(files);
            lines = List.copyOf(lines);
        }
    }
}
