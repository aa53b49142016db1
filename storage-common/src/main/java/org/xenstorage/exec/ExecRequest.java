package org.xenstorage.exec;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What to run: an argv (never interpreted by a shell), the exact environment the child gets
 * (nothing is inherited), optional bytes for its stdin, a wall-clock limit and output caps.
 *
 * @param argv           program and arguments; {@code argv.get(0)} is an absolute path
 * @param environment    the child's whole environment
 * @param stdin          bytes written to the child's stdin, which is then closed (empty: closed at once)
 * @param workingDir     working directory, or null for the daemon's
 * @param timeout        after this the whole process tree is killed
 * @param maxStdoutBytes stdout beyond this kills the tree and marks the result {@link ExecResult.Termination#OUTPUT_LIMIT}
 * @param maxStderrBytes stderr beyond this is discarded (the child keeps running)
 */
public record ExecRequest(List<String> argv, Map<String, String> environment, byte[] stdin, Path workingDir,
                          Duration timeout, int maxStdoutBytes, int maxStderrBytes) {
    public ExecRequest {
        argv = List.copyOf(argv);
        if (argv.isEmpty()) {
            throw new IllegalArgumentException("argv must name a program");
        }
        environment = Map.copyOf(environment);
        stdin = stdin == null ? new byte[0] : stdin;
        Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("timeout must be positive");
        }
        if (maxStdoutBytes <= 0 || maxStderrBytes < 0) {
            throw new IllegalArgumentException("output caps must be positive");
        }
    }

    /** A request with no stdin, the given environment, 16 MiB stdout and 64 KiB stderr caps. */
    public static ExecRequest of(List<String> argv, Map<String, String> environment, Duration timeout) {
        return new ExecRequest(argv, environment, new byte[0], null, timeout, 16 << 20, 64 << 10);
    }

    public ExecRequest withStdin(byte[] input) {
        return new ExecRequest(argv, environment, input, workingDir, timeout, maxStdoutBytes, maxStderrBytes);
    }

    public ExecRequest withWorkingDir(Path dir) {
        return new ExecRequest(argv, environment, stdin, dir, timeout, maxStdoutBytes, maxStderrBytes);
    }

    public ExecRequest withMaxStdoutBytes(int max) {
        return new ExecRequest(argv, environment, stdin, workingDir, timeout, max, maxStderrBytes);
    }
}
