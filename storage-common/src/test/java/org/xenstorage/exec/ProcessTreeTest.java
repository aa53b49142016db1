package org.xenstorage.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.xenstorage.testing.Soon;

class ProcessTreeTest {
    /**
     * A python3 process that starts a child, prints the child's pid, and sleeps; both sleep far longer than any
     * wait of these tests, so only a kill ends them in time.
     */
    private static Process parentWithChild() throws Exception {
        long sleep = 10 * Soon.seconds();
        Process p = new ProcessBuilder("python3", "-c", "import subprocess,sys,time\n"
                + "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(" + sleep + ")'])\n"
                + "print(c.pid, flush=True)\ntime.sleep(" + sleep + ")\n").redirectErrorStream(true).start();
        return p;
    }

    /** The child's pid, once {@code parent} has started it. */
    private static ProcessHandle childOf(Process parent) throws Exception {
        String line = new BufferedReader(new InputStreamReader(parent.getInputStream(), StandardCharsets.UTF_8))
                .readLine();
        return ProcessHandle.of(Long.parseLong(line.trim())).orElseThrow();
    }

    @Test
    void killEndsTheProcessAndWhatItStarted() throws Exception {
        Process p = parentWithChild();
        ProcessHandle childHandle = childOf(p);
        long child = childHandle.pid();
        assertFalse(ProcessTree.gone(childHandle));

        List<ProcessHandle> killed = ProcessTree.kill(p.toHandle());
        assertEquals(List.of(child), killed.stream().map(ProcessHandle::pid).toList());
        assertTrue(ProcessTree.awaitGone(List.of(p.toHandle(), childHandle), Soon.timeout()));
        // re-parented when its parent died: if its new parent never reaps it, isAlive() still says true
        assertTrue(ProcessTree.gone(childHandle));
    }

    @Test
    void awaitGoneSaysSoWhenAProcessOutlivesTheWait() throws Exception {
        Process p = parentWithChild();
        // once the child is running, so that the kill below finds it (a kill during its fork would orphan it)
        ProcessHandle child = childOf(p);
        try {
            assertFalse(ProcessTree.awaitGone(List.of(p.toHandle()), Duration.ofMillis(50)));
        } finally {
            ProcessTree.kill(p);
        }
        assertTrue(ProcessTree.awaitGone(List.of(p.toHandle(), child), Soon.timeout()));
    }

    /**
     * Regression: the descendants were listed, then killed; a child forked in between was re-parented and kept
     * running (a driver's helper holding the call's stdout open, say). A parent forking as fast as it can makes
     * that window all but certain to be hit. Its forks are bounded, so the process table stays small whatever
     * the machine's speed: on a machine so slow that the kill comes after the last fork, the test proves less
     * but cannot fail for it.
     */
    @Test
    void aProcessForkingWhileItIsKilledLeavesNoChildRunning() throws Exception {
        // a marker no other process carries: every sleep this parent starts has it in its argv
        String marker = Long.toString(1_000_000 + System.nanoTime() % 1_000_000) + ".5";
        Process forker = new ProcessBuilder("/bin/sh", "-c", "i=0; while [ $i -lt " + MAX_FORKS + " ]; do "
                + "/bin/sleep " + marker + " & i=$((i+1)); done; wait")
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            Soon.await("the parent has started forking", () -> forker.children().count() > 20);
            List<ProcessHandle> killed = ProcessTree.kill(forker);
            assertTrue(ProcessTree.awaitGone(killed, Soon.timeout()), "a listed child survived");
            Soon.exitOf(forker);
            List<ProcessHandle> survivors = withMarker(marker);
            assertEquals(List.of(), survivors.stream().map(ProcessHandle::pid).toList(),
                    "children forked while the tree was killed, still running");
        } finally {
            withMarker(marker).forEach(ProcessHandle::destroyForcibly);
            forker.destroyForcibly();
        }
    }

    /** Enough forks to outlast the test's reaction on an idle machine, few enough for any process table. */
    private static final int MAX_FORKS = 2000;

    private static List<ProcessHandle> withMarker(String marker) {
        return ProcessHandle.allProcesses().filter(p -> !ProcessTree.gone(p)
                && p.info().arguments().map(a -> List.of(a).contains(marker)).orElse(false)).toList();
    }
}
