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

class ProcessTreeTest {
    /** A python3 process that starts a child sleeping a minute, prints the child's pid, then sleeps too. */
    private static Process parentWithChild() throws Exception {
        Process p = new ProcessBuilder("python3", "-c", "import subprocess,sys,time\n"
                + "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
                + "print(c.pid, flush=True)\ntime.sleep(60)\n").redirectErrorStream(true).start();
        return p;
    }

    @Test
    void killEndsTheProcessAndWhatItStarted() throws Exception {
        Process p = parentWithChild();
        long child = Long.parseLong(new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))
                .readLine().trim());
        ProcessHandle childHandle = ProcessHandle.of(child).orElseThrow();
        assertFalse(ProcessTree.gone(childHandle));

        List<ProcessHandle> killed = ProcessTree.kill(p.toHandle());
        assertEquals(List.of(child), killed.stream().map(ProcessHandle::pid).toList());
        assertTrue(ProcessTree.awaitGone(List.of(p.toHandle(), childHandle), Duration.ofSeconds(30)));
        // re-parented when its parent died: if its new parent never reaps it, isAlive() still says true
        assertTrue(ProcessTree.gone(childHandle));
    }

    @Test
    void awaitGoneSaysSoWhenAProcessOutlivesTheWait() throws Exception {
        Process p = parentWithChild();
        try {
            assertFalse(ProcessTree.awaitGone(List.of(p.toHandle()), Duration.ofMillis(50)));
        } finally {
            ProcessTree.kill(p);
        }
        assertTrue(ProcessTree.awaitGone(List.of(p.toHandle()), Duration.ofSeconds(30)));
    }
}
