package org.xenstorage.smapiv3.script;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.lang.reflect.Type;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.exec.ChildProcessRunner;
import org.xenstorage.exec.ExecRequest;
import org.xenstorage.exec.ExecResult;
import org.xenstorage.logging.CallContext;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.idl.wire.WireCodec;
import org.xenstorage.idl.wire.WireException;
import org.xenstorage.smapiv3.idl.ScriptError;

/**
 * Runs one SMAPIv3 script: {@code <dir>/<Iface.method> --json} with the named parameters as one
 * compact JSON object on stdin, no shell, through the project's one {@link ChildProcessRunner}; and
 * turns what it did into a result or the SMAPIv2 error the spec prescribes (SCRIPT_MISSING,
 * SCRIPT_NOT_EXECUTABLE, SCRIPT_FAILED, Backend_error_with_backtrace, Activated_on_another_host).
 */
public final class ScriptExec {
    private static final Logger LOG = LoggerFactory.getLogger(ScriptExec.class);
    private static final int MAX_STDERR = 64 << 10;
    private static final String[] SIGNALS = {"", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT",
        "SIGBUS", "SIGFPE", "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM"};

    private final ChildProcessRunner runner;
    private final Map<String, String> environment;
    private final Duration timeout;
    private final int maxStdoutBytes;
    private final ScriptLookup lookup;
    private final boolean killOnTimeout;

    /**
     * @param environment    the scripts' whole environment (upstream passes the daemon's own)
     * @param timeout        a script running longer is killed with its process tree
     * @param maxStdoutBytes a script printing more is killed
     */
    public ScriptExec(ChildProcessRunner runner, Map<String, String> environment, Duration timeout,
                      int maxStdoutBytes) {
        this(runner, environment, timeout, maxStdoutBytes, null);
    }

    /**
     * As the other constructor, running only scripts that really live under {@code pluginRoot} (symlinks
     * resolved); null runs any.
     */
    public ScriptExec(ChildProcessRunner runner, Map<String, String> environment, Duration timeout,
                      int maxStdoutBytes, Path pluginRoot) {
        this(runner, environment, timeout, maxStdoutBytes, pluginRoot, true);
    }

    /** As above; {@code killOnTimeout} false only reports a script past its timeout (every few minutes). */
    public ScriptExec(ChildProcessRunner runner, Map<String, String> environment, Duration timeout,
                      int maxStdoutBytes, Path pluginRoot, boolean killOnTimeout) {
        this.killOnTimeout = killOnTimeout;
        this.lookup = new ScriptLookup(pluginRoot);
        this.runner = Objects.requireNonNull(runner);
        this.environment = Map.copyOf(environment);
        this.timeout = Objects.requireNonNull(timeout);
        this.maxStdoutBytes = maxStdoutBytes;
    }

    /** Runs the script and decodes its result as {@code resultType} (Void: any value, ignored). */
    public <T> T call(Path dir, String method, ObjectNode params, Type resultType) {
        JsonNode result = callRaw(dir, method, params);
        if (resultType == Void.class) {
            return null;
        }
        try {
            return WireCodec.decode(result, resultType);
        } catch (WireException | IllegalArgumentException | NullPointerException e) {
            throw backend("SCRIPT_FAILED", List.of("Unexpected exception:" + e.getMessage()));
        }
    }

    /** Runs the script and returns the JSON value it printed. */
    public JsonNode callRaw(Path dir, String method, ObjectNode params) {
        Path path = resolve(dir, method);
        byte[] stdin = Json.write(params).getBytes(StandardCharsets.UTF_8);
        ExecRequest request = new ExecRequest(List.of(path.toString(), "--json"), environment, stdin, null, timeout,
                maxStdoutBytes, MAX_STDERR, dir.getFileName() + "/" + method, killOnTimeout);
        LOG.debug("{} {}", method, params);
        ExecResult r;
        try {
            r = runner.run(request);
        } catch (IOException e) {
            throw backend("SCRIPT_FAILED", List.of(path.toString(), "could not be started", String.valueOf(e.getMessage())));
        }
        return interpret(path, r);
    }

    /** Whether {@code <dir>/<method>} exists (case-insensitively) and is executable. */
    public boolean isRunnable(Path dir, String method) {
        return lookup.find(dir, method) instanceof ScriptLookup.Runnable;
    }

    /** Whether {@code <dir>/<method>} is missing (not a regular file, case-insensitively). */
    public boolean isMissing(Path dir, String method) {
        return lookup.find(dir, method) instanceof ScriptLookup.Missing;
    }

    /** Drops the cached script names of a plugin directory. */
    public void forget(Path dir) {
        lookup.forget(dir);
    }

    private Path resolve(Path dir, String method) {
        ScriptLookup.Found found = lookup.find(dir, method);
        if (found instanceof ScriptLookup.Runnable r) {
            return r.path();
        }
        if (found instanceof ScriptLookup.Missing m) {
            LOG.error("{} is not a file", m.path());
            throw backend("SCRIPT_MISSING",
                    List.of(m.path().toString(), "Check whether the file exists and has correct permissions"));
        }
        if (found instanceof ScriptLookup.NotExecutable n) {
            LOG.error("{} is not executable", n.path());
            throw backend("SCRIPT_NOT_EXECUTABLE", List.of(n.path().toString(), "Permission denied"));
        }
        if (found instanceof ScriptLookup.Outside o) {
            LOG.error("refusing to run {}: its real path {} is outside the plugin root", o.path(), o.real());
            throw backend("SCRIPT_FAILED", List.of(o.path().toString(),
                    "refused: its real path " + o.real() + " is outside the plugin root"));
        }
        throw backend("SCRIPT_FAILED", List.of("Unexpected exception:" + ((ScriptLookup.Unreadable) found).reason()));
    }

    private static JsonNode interpret(Path path, ExecResult r) {
        String out = r.stdoutText();
        String p = path.toString();
        switch (r.termination()) {
            case TIMED_OUT -> {
                LOG.error("{} timed out after {} and was killed (its stderr lines are logged above)", p, r.elapsed());
                throw backend("SCRIPT_FAILED", List.of(p, "timed out", r.elapsed().toMillis() + "ms", out,
                        r.stderrText()));
            }
            case OUTPUT_LIMIT -> {
                LOG.error("{} printed more than the stdout limit and was killed", p);
                throw backend("SCRIPT_FAILED", List.of(p, "stdout too large", out.length() + " bytes"));
            }
            case EXITED -> {
            }
        }
        int signal = r.signal();
        if (signal > 0) {
            LOG.error("{} caught a signal and failed (its stderr lines are logged above)", p);
            throw backend("SCRIPT_FAILED", List.of(p, "signalled", signalName(signal), out, r.stderrText()));
        }
        if (r.exitStatus() == 0) {
            try {
                return Json.parse(out.strip());
            } catch (JsonProcessingException e) {
                LOG.error("{} succeeded but printed bad json: {}", p, CallContext.sanitise(out, 1000));
                throw backend("SCRIPT_FAILED", List.of(p, "bad json on stdout", out));
            }
        }
        ScriptError error;
        try {
            error = WireCodec.decode(Json.parse(out.strip()), ScriptError.class);
        } catch (JsonProcessingException | WireException | NullPointerException e) {
            LOG.error("{} failed and printed bad error json: {} (its stderr lines are logged above)", p,
                    CallContext.sanitise(out, 1000));
            throw backend("SCRIPT_FAILED", List.of(p, "non-zero exit and bad json on stdout",
                    Integer.toString(r.exitStatus()), out, r.stderrText()));
        }
        LOG.debug("{} failed: {}", p, CallContext.sanitise(out, 1000));
        throw new StorageException(toV2(error));
    }

    /** The SMAPIv2 error for a script's error object (spec 2.6). */
    public static StorageError toV2(ScriptError error) {
        List<String> params = error.params();
        if (params.size() == 2 && params.get(0).equals("Activated_on_another_host")) {
            return new StorageError.ActivatedOnAnotherHost(params.get(1));
        }
        ObjectNode bt = Json.NODES.objectNode();
        bt.put("error", error.backtrace().error());
        bt.set("files", Json.MAPPER.valueToTree(error.backtrace().files()));
        bt.set("lines", Json.MAPPER.valueToTree(error.backtrace().lines()));
        List<String> all = new ArrayList<>(params.size() + 1);
        all.add(bt.toString());
        all.addAll(params);
        return new StorageError.BackendErrorWithBacktrace(error.code(), all);
    }

    static String signalName(int signal) {
        return signal < SIGNALS.length ? SIGNALS[signal] : "SIG" + signal;
    }

    /** A {@code Backend_error} thrown as the storage exception the dispatcher answers with. */
    public static StorageException backend(String code, List<String> params) {
        return new StorageException(new StorageError.BackendError(code, params));
    }
}
