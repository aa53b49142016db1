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
import org.xenstorage.testing.Soon;

class ChildProcessRunnerTest {
    private static final ChildProcessRunner RUNNER = new ChildProcessRunner();
    private static final Map<String, String> ENV = Map.of("PATH", "/usr/bin:/bin", "MARK", "m1");

    @AfterAll
    static void close() {
        RUNNER.close();
    }

    /** A child expected to end by itself: its timeout is Soon's, so a busy machine cannot make it fire. */
    private static ExecRequest python(String code) {
        return ExecRequest.of(List.of("/usr/bin/env", "python3", "-c", code), ENV, Soon.timeout());
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
        // the child forks a grandchild that holds stdout open: both must die, or the run would last as long as
        // the grandchild's sleep. sh forks at once (python could take longer than the timeout to start on a busy
        // machine, and was killed before it forked); the timeout leaves ample time and only sets the test's length
        long sleep = 10 * Soon.seconds();
        ExecRequest req = new ExecRequest(List.of("/bin/sh", "-c", "sleep " + sleep + " & echo $!; exec sleep " + sleep),
                ENV, null, null, Duration.ofSeconds(2), 1024, 1024);
        ExecResult r = RUNNER.run(req);
        assertEquals(ExecResult.Termination.TIMED_OUT, r.termination());
        assertTrue(r.elapsed().compareTo(Soon.timeout()) < 0, "ended by the kill, not by the sleeps: " + r.elapsed());
        String out = r.stdoutText().trim();
        assertTrue(out.matches("\\d+"), "the grandchild's pid, printed before the kill: '" + out + "'");
        // reaped by its new parent some time after the kill, or a zombie if that parent never reaps: both are gone
        ProcessHandle grandchild = ProcessHandle.of(Long.parseLong(out)).orElse(null);
        if (grandchild != null) {
            Soon.await("the grandchild gone", () -> ProcessTree.gone(grandchild));
        }
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

    /**
     * Issue 13.4: a driver that answers and exits at once, leaving a forgotten helper (same process group)
     * holding its stdout. Before the fix the call read stdout to its end, so it lasted until the timeout and
     * was reported TIMED_OUT (the helper, outside the driver's tree, was not even killed). Now the call ends
     * with the driver and what is left of its process group is killed.
     */
    @Test
    void theCallEndsWhenTheProcessExitsAndAForgottenHelperInItsGroupIsKilled() throws Exception {
        long sleep = 10 * Soon.seconds();
        ExecResult r = RUNNER.run(new ExecRequest(List.of("/bin/sh", "-c", "sleep " + sleep + " & echo $!; echo answered"),
                ENV, null, null, Soon.timeout(), 1024, 1024));
        assertEquals(ExecResult.Termination.EXITED, r.termination());
        assertEquals(0, r.exitStatus());
        String[] lines = r.stdoutText().split("\n");
        assertEquals("answered", lines[1], r.stdoutText());
        ProcessHandle helper = ProcessHandle.of(Long.parseLong(lines[0])).orElse(null);
        if (helper != null) {
            Soon.await("the helper killed", () -> ProcessTree.gone(helper));
        }
    }

    /**
     * Issue 13.4: a helper that left the driver's process group (setsid) is not killed, but the call still
     * ends with what the driver printed.
     */
    @Test
    void aHelperOutsideTheProcessGroupIsLeftAloneAndNotWaitedFor() throws Exception {
        long sleep = 10 * Soon.seconds();
        // the child waits until its helper has left the group, as upstream sm's daemonize waits for its first
        // fork (which calls setsid); without that wait, a loaded machine may not have run setsid yet at exit
        ExecResult r = RUNNER.run(new ExecRequest(List.of("/bin/sh", "-c", "setsid sleep " + sleep + " & h=$!; "
                + "while [ \"$(cut -d' ' -f5 /proc/$h/stat)\" = \"$(cut -d' ' -f5 /proc/$$/stat)\" ]; do sleep 0.01; done; "
                + "echo $h; echo answered"), ENV, null, null, Soon.timeout(), 1024, 1024));
        String[] lines = r.stdoutText().split("\n");
        ProcessHandle helper = ProcessHandle.of(Long.parseLong(lines[0])).orElseThrow();
        try {
            assertEquals(ExecResult.Termination.EXITED, r.termination());
            assertEquals("answered", lines[1], r.stdoutText());
            assertFalse(ProcessTree.gone(helper), "a process that left the group is not ours to kill");
        } finally {
            helper.destroyForcibly();
        }
    }

    /**
     * Issue 13.5: with kill-on-timeout off (host mode's default, as upstream never kills an SM driver), a child
     * past its timeout keeps running to its own end, and it is listed with its label while it runs.
     */
    @Test
    void withoutKillOnTimeoutAChildPastItsTimeoutRunsToItsEndAndIsListedMeanwhile() throws Exception {
        java.nio.file.Path release = java.nio.file.Files.createTempDirectory("release").resolve("go");
        Duration timeout = Duration.ofMillis(100);
        ExecRequest req = new ExecRequest(List.of("/bin/sh", "-c",
                "while [ ! -e " + release + " ]; do sleep 0.05; done; echo finished"), ENV, null, null, timeout,
                1024, 1024).withLabel("TestSR vdi_snapshot sr=s1").withKillOnTimeout(false);
        java.util.concurrent.CompletableFuture<ExecResult> run = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try {
                return RUNNER.run(req);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        Soon.await("listed as running well past its timeout", () -> ChildProcessRunner.running().stream().anyMatch(
                c -> c.label().equals("TestSR vdi_snapshot sr=s1") && c.age().compareTo(timeout.multipliedBy(5)) > 0));
        java.nio.file.Files.createFile(release);
        ExecResult r = Soon.get(run);
        assertEquals(ExecResult.Termination.EXITED, r.termination());
        assertEquals("finished\n", r.stdoutText());
        assertTrue(ChildProcessRunner.running().stream().noneMatch(c -> c.label().equals("TestSR vdi_snapshot sr=s1")));
    }
}
