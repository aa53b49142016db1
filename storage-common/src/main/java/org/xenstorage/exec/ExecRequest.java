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
 * @param timeout        after this the whole process tree is killed, or (without {@code killOnTimeout}) a WARN
 *                       is logged, then again every {@code min(timeout, 5 min)} while it runs
 * @param maxStdoutBytes stdout beyond this kills the tree and marks the result {@link ExecResult.Termination#OUTPUT_LIMIT}
 * @param maxStderrBytes stderr beyond this is discarded (the child keeps running)
 * @param label          what the run is, for logs and the list of running calls (e.g. {@code vdi_attach sr=…})
 * @param killOnTimeout  whether the timeout kills (upstream never kills SM drivers: killing a snapshot or a
 *                       coalesce mid-journal is worse than waiting)
 */
public record ExecRequest(List<String> argv, Map<String, String> environment, byte[] stdin, Path workingDir,
                          Duration timeout, int maxStdoutBytes, int maxStderrBytes, String label,
                          boolean killOnTimeout) {
    /** A request whose timeout kills, labelled by its program. */
    public ExecRequest(List<String> argv, Map<String, String> environment, byte[] stdin, Path workingDir,
                       Duration timeout, int maxStdoutBytes, int maxStderrBytes) {
        this(argv, environment, stdin, workingDir, timeout, maxStdoutBytes, maxStderrBytes,
                argv.isEmpty() ? "" : argv.get(0), true);
    }

    public ExecRequest {
        Objects.requireNonNull(label, "label");
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
        return new ExecRequest(argv, environment, input, workingDir, timeout, maxStdoutBytes, maxStderrBytes, label,
                killOnTimeout);
    }

    public ExecRequest withWorkingDir(Path dir) {
        return new ExecRequest(argv, environment, stdin, dir, timeout, maxStdoutBytes, maxStderrBytes, label,
                killOnTimeout);
    }

    public ExecRequest withMaxStdoutBytes(int max) {
        return new ExecRequest(argv, environment, stdin, workingDir, timeout, max, maxStderrBytes, label,
                killOnTimeout);
    }

    /** The same request described as {@code what} in logs and in the list of running calls. */
    public ExecRequest withLabel(String what) {
        return new ExecRequest(argv, environment, stdin, workingDir, timeout, maxStdoutBytes, maxStderrBytes, what,
                killOnTimeout);
    }

    /** The same request whose timeout kills ({@code true}) or only warns ({@code false}). */
    public ExecRequest withKillOnTimeout(boolean kill) {
        return new ExecRequest(argv, environment, stdin, workingDir, timeout, maxStdoutBytes, maxStderrBytes, label,
                kill);
    }
}
