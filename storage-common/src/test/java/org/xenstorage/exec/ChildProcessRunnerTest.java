package org.xenstorage.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

class ChildProcessRunnerTest {
    private static final ChildProcessRunner RUNNER = new ChildProcessRunner();
    private static final Map<String, String> ENV = Map.of("PATH", "/usr/bin:/bin", "MARK", "m1");

    @AfterAll
    static void close() {
        RUNNER.close();
    }

    private static ExecRequest python(String code) {
        return ExecRequest.of(List.of("/usr/bin/env", "python3", "-c", code), ENV, Duration.ofSeconds(20));
    }

    @Test
    void passesStdinThroughAndGivesOnlyTheExplicitEnvironment() throws Exception {
        ExecResult r = RUNNER.run(python(
                "import os,sys; d=sys.stdin.read(); print(d.upper(), os.environ.get('MARK'), os.environ.get('HOME'))")
                .withStdin("hello".getBytes(StandardCharsets.UTF_8)));
        assertTrue(r.succeeded(), r.toString());
        assertEquals("HELLO m1 None\n", r.stdoutText());
    }

    @Test
    void reportsExitCodeAndStderr() throws Exception {
        ExecResult r = RUNNER.run(python("import sys; sys.stderr.write('bad'); sys.exit(3)"));
        assertEquals(ExecResult.Termination.EXITED, r.termination());
        assertEquals(3, r.exitStatus());
        assertEquals("bad", r.stderrText());
        assertEquals(0, r.signal());
    }

    @Test
    void reportsDeathBySignal() throws Exception {
        ExecResult r = RUNNER.run(python("import os,signal; os.kill(os.getpid(), signal.SIGSEGV)"));
        assertFalse(r.succeeded());
        assertEquals(11, r.signal());
    }

    @Test
    void killsTheWholeTreeOnTimeout() throws Exception {
        // the child forks a grandchild that holds stdout open: both must die
        ExecRequest req = new ExecRequest(List.of("/usr/bin/env", "python3", "-c",
                "import os,sys,time\npid=os.fork()\nif pid:\n  print(pid, flush=True)\ntime.sleep(60)"),
                ENV, null, null, Duration.ofMillis(500), 1024, 1024);
        ExecResult r = RUNNER.run(req);
        assertEquals(ExecResult.Termination.TIMED_OUT, r.termination());
        long grandchild = Long.parseLong(r.stdoutText().trim());
        // reaped by init shortly after the kill; wait for that instead of guessing a delay
        var handle = ProcessHandle.of(grandchild);
        if (handle.isPresent()) {
            handle.get().onExit().get(10, java.util.concurrent.TimeUnit.SECONDS);
        }
        assertFalse(ProcessHandle.of(grandchild).map(ProcessHandle::isAlive).orElse(false));
    }

    @Test
    void stopsAChildThatFloodsStdout() throws Exception {
        ExecResult r = RUNNER.run(python("import sys\nwhile True: sys.stdout.write('x'*65536)").withMaxStdoutBytes(100_000));
        assertEquals(ExecResult.Termination.OUTPUT_LIMIT, r.termination());
        assertEquals(100_000, r.stdout().length);
    }

    @Test
    void missingProgramFailsToStart() {
        assertThrows(IOException.class, () -> RUNNER.run(ExecRequest.of(List.of("/nonexistent/driver"), ENV, Duration.ofSeconds(1))));
    }
}
