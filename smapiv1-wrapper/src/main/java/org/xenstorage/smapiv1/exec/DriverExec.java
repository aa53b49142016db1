package org.xenstorage.smapiv1.exec;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.exec.ChildProcessRunner;
import org.xenstorage.exec.ExecRequest;
import org.xenstorage.exec.ExecResult;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.smapiv1.xmlrpc.MethodResponse;
import org.xenstorage.smapiv1.xmlrpc.XmlRpcFormatException;
import org.xenstorage.smapiv1.xmlrpc.XmlRpcParser;

/**
 * Runs one SMAPIv1 command the way xapi's {@code Sm_exec} does: argv {@code [driver, <methodCall>]},
 * no shell, a fresh environment ({@code PATH}, {@code ORIGINATOR=SM} plus what the callbacks need),
 * no stdin, stdout read in full and decoded as a {@code methodResponse}, and every way it can go
 * wrong mapped to the SMAPIv2 error of the spec's table. Unlike xapi, a driver that runs past the
 * configured timeout is killed with its whole process tree, and stdout beyond a cap is refused.
 *
 * <p>{@code sr_attach}, {@code sr_detach} and {@code sr_probe} run under one process-wide lock, as in xapi.
 */
public final class DriverExec {
    private static final Logger LOG = LoggerFactory.getLogger(DriverExec.class);
    /** Linux's limit on one argv string (MAX_ARG_STRLEN). */
    static final int MAX_ARG_BYTES = 128 * 1024 - 1;
    private static final Set<String> ATTACH_MUTEX_COMMANDS = Set.of("sr_attach", "sr_detach", "sr_probe");
    private static final int MAX_STDERR = 64 * 1024;

    private final ChildProcessRunner runner;
    private final Duration timeout;
    private final Map<String, String> environment;
    private final int maxStdoutBytes;
    private final ReentrantLock attachMutex = new ReentrantLock(true);

    /**
     * @param extraEnvironment added to {@code PATH} and {@code ORIGINATOR} (e.g. {@code XAPI_LOCAL_SOCKET})
     */
    private final boolean killOnTimeout;
    private final int perSrExecs;
    private final Map<String, Semaphore> srExecs = new ConcurrentHashMap<>();

    public DriverExec(ChildProcessRunner runner, Duration timeout, Map<String, String> extraEnvironment,
                      int maxStdoutBytes) {
        this(runner, timeout, extraEnvironment, maxStdoutBytes, true);
    }

    /**
     * @param killOnTimeout whether a driver past {@code timeout} is killed (else it is only reported, every few
     *                      minutes, as upstream never kills a driver)
     */
    public DriverExec(ChildProcessRunner runner, Duration timeout, Map<String, String> extraEnvironment,
                      int maxStdoutBytes, boolean killOnTimeout) {
        this(runner, timeout, extraEnvironment, maxStdoutBytes, killOnTimeout, Integer.MAX_VALUE);
    }

    /**
     * @param perSrExecs how many driver execs of one SR may run at once; a call over it waits (after it took its
     *                   SR and VDI locks, so a call waiting for a lock holds no exec slot), other SRs never do
     */
    public DriverExec(ChildProcessRunner runner, Duration timeout, Map<String, String> extraEnvironment,
                      int maxStdoutBytes, boolean killOnTimeout, int perSrExecs) {
        this.perSrExecs = perSrExecs;
        this.killOnTimeout = killOnTimeout;
        this.runner = runner;
        this.timeout = timeout;
        this.maxStdoutBytes = maxStdoutBytes;
        Map<String, String> env = new LinkedHashMap<>();
        env.put("PATH", "/sbin:/usr/sbin:/bin:/usr/bin");
        env.put("ORIGINATOR", "SM");
        env.putAll(extraEnvironment);
        this.environment = Map.copyOf(env);
    }

    /** The environment every driver gets. */
    public Map<String, String> environment() {
        return environment;
    }

    /** What a driver run serves, for logs and the running-call list: {@code FileSR sr_attach sr=<uuid> vdi=<uuid>}. */
    private static String label(Path driver, SmCall call) {
        StringBuilder b = new StringBuilder(driver.getFileName().toString()).append(' ').append(call.command());
        if (call.srUuid() != null && !call.srUuid().isEmpty()) {
            b.append(" sr=").append(call.srUuid());
        }
        if (call.vdiUuid() != null && !call.vdiUuid().isEmpty()) {
            b.append(" vdi=").append(call.vdiUuid());
        }
        return b.toString();
    }

    /**
     * Runs the command and returns the decoded result value (null for nil).
     *
     * @throws StorageException with the error of the spec's table
     */
    public Object call(Path driver, SmCall call) {
        String xml = call.toXml();
        if (xml.length() > MAX_ARG_BYTES) {
            throw SmErrors.backend("SR_BACKEND_FAILURE", "request too large for one argv string (E2BIG): "
                    + xml.length() + " bytes", "", "");
        }
        ExecRequest request = new ExecRequest(List.of(driver.toString(), xml), environment, new byte[0], null,
                timeout, maxStdoutBytes, MAX_STDERR, label(driver, call), killOnTimeout);
        boolean mutex = ATTACH_MUTEX_COMMANDS.contains(call.command());
        if (mutex) {
            attachMutex.lock();
        }
        ExecResult result;
        Semaphore slots = call.srUuid() == null || call.srUuid().isEmpty() || perSrExecs == Integer.MAX_VALUE ? null
                : srExecs.computeIfAbsent(call.srUuid(), sr -> new Semaphore(perSrExecs, true));
        try {
            if (slots != null) {
                slots.acquireUninterruptibly();
            }
            try {
                result = runner.run(request);
            } finally {
                if (slots != null) {
                    slots.release();
                }
            }
        } catch (IOException e) {
            throw SmErrors.backend("SR_BACKEND_FAILURE", "cannot execute " + driver + ": " + e.getMessage(), "", "");
        } finally {
            if (mutex) {
                attachMutex.unlock();
            }
        }
        return decode(result, call);
    }

    /** Maps a finished process to the result value or the error (spec sections 3.4, 6.1, 6.2). */
    static Object decode(ExecResult r, SmCall call) {
        String stdout = r.stdoutText();
        String stderr = r.stderrText();
        switch (r.termination()) {
            case TIMED_OUT -> throw SmErrors.backend("SR_BACKEND_FAILURE",
                    "timed out: killed after " + r.elapsed().toMillis() + " ms", stdout, stderr);
            case OUTPUT_LIMIT -> throw SmErrors.backend("SR_BACKEND_FAILURE",
                    "output too large: more than " + r.stdout().length + " bytes on stdout",
                    stdout.substring(0, Math.min(stdout.length(), 4096)), stderr);
            case EXITED -> {
                // handled below
            }
        }
        if (r.signal() != 0) {
            throw SmErrors.backend("SR_BACKEND_FAILURE", "received signal: " + signalName(r.signal()), stdout, stderr);
        }
        if (r.exitStatus() != 0) {
            throw SmErrors.backend("SR_BACKEND_FAILURE", "non-zero exit", stdout, stderr);
        }
        MethodResponse response;
        try {
            response = XmlRpcParser.parseResponse(r.stdout());
        } catch (XmlRpcFormatException e) {
            if (e.kind() == XmlRpcFormatException.Kind.NOT_XML) {
                throw SmErrors.backend("SR_BACKEND_FAILURE", e.getMessage() == null ? "not XML" : e.getMessage(),
                        stdout, stderr);
            }
            LOG.warn("{}: unexpected response shape: {}", call.command(), e.getMessage());
            throw SmErrors.unexpectedResponse();
        }
        if (response instanceof MethodResponse.Fault f) {
            throw SmErrors.fault(f.code(), f.message(), stderr, call.srRef(), call.vdiRef());
        }
        return ((MethodResponse.Success) response).value();
    }

    /** Signal names as OCaml's Unix module prints them for the usual signals. */
    static String signalName(int n) {
        return switch (n) {
            case 1 -> "SIGHUP";
            case 2 -> "SIGINT";
            case 3 -> "SIGQUIT";
            case 4 -> "SIGILL";
            case 6 -> "SIGABRT";
            case 8 -> "SIGFPE";
            case 9 -> "SIGKILL";
            case 11 -> "SIGSEGV";
            case 13 -> "SIGPIPE";
            case 14 -> "SIGALRM";
            case 15 -> "SIGTERM";
            case 10 -> "SIGUSR1";
            case 12 -> "SIGUSR2";
            default -> "signal " + n;
        };
    }
}
