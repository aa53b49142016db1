package org.xenstorage.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;
import org.xenstorage.logging.CallContext;
import org.xenstorage.testing.Soon;

/**
 * What a run leaves in the log (real child processes): one INFO line with its label, how it ended, its duration
 * and pid, then its stderr a line each, at INFO when it failed and DEBUG when it succeeded, escaped, under the
 * calling thread's call context.
 */
class ChildProcessRunnerLogTest {
    private static final Map<String, String> ENV = Map.of("PATH", "/usr/bin:/bin");
    private final Logger logger = (Logger) LoggerFactory.getLogger(ChildProcessRunner.class);
    private final ListAppender<ILoggingEvent> events = new ListAppender<>();
    private Level before;

    @BeforeEach
    void capture() {
        before = logger.getLevel();
        logger.setLevel(Level.DEBUG);
        events.start();
        logger.addAppender(events);
    }

    @AfterEach
    void release() {
        logger.detachAppender(events);
        logger.setLevel(before);
    }

    private static ExecRequest python(String label, String code) {
        return ExecRequest.of(List.of("/usr/bin/env", "python3", "-c", code), ENV, Soon.timeout()).withLabel(label);
    }

    @Test
    void aFailedRunLogsItsExitAndItsStderrAtInfoEscapedUnderTheCallersDbg() throws Exception {
        ExecResult r;
        try (ChildProcessRunner runner = new ChildProcessRunner();
             CallContext.Scope call = CallContext.enter("org.xen.xapi.storage.localfile", "call-7")) {
            r = runner.run(python("TestSR vdi_attach sr=s1",
                    "import sys; sys.stderr.write('first\\n\\x1b[31mred\\u2028x\\n\\n'); sys.exit(3)"));
        }
        assertEquals(3, r.exitStatus());
        List<ILoggingEvent> logged = events.list;
        assertEquals(3, logged.size(), logged::toString);
        ILoggingEvent exec = logged.get(0);
        assertEquals(Level.INFO, exec.getLevel());
        assertTrue(exec.getFormattedMessage().matches("exec TestSR vdi_attach sr=s1: exit 3 in \\d+ ms \\(pid \\d+, "
                + "/usr/bin/env\\), 2 stderr lines"), exec.getFormattedMessage());
        assertEquals(Level.INFO, logged.get(1).getLevel());
        assertEquals("stderr: first", logged.get(1).getFormattedMessage());
        assertEquals("stderr: \\x1b[31mred\\u2028x", logged.get(2).getFormattedMessage());
        for (ILoggingEvent e : logged) {
            assertEquals("call-7", e.getMDCPropertyMap().get(CallContext.DBG));
            assertEquals("org.xen.xapi.storage.localfile", e.getMDCPropertyMap().get(CallContext.QUEUE));
        }
    }

    @Test
    void aSuccessfulRunLogsItsStderrAtDebugAndALabelledByItsProgramRunNamesItOnce() throws Exception {
        try (ChildProcessRunner runner = new ChildProcessRunner()) {
            runner.run(python("Datapath.attach", "import sys; sys.stderr.write('note\\n')"));
            runner.run(ExecRequest.of(List.of("/usr/bin/env", "true"), ENV, Soon.timeout()));
        }
        List<ILoggingEvent> logged = events.list;
        assertEquals(3, logged.size(), logged::toString);
        assertEquals(Level.INFO, logged.get(0).getLevel());
        assertTrue(logged.get(0).getFormattedMessage().matches(
                "exec Datapath.attach: exit 0 in \\d+ ms \\(pid \\d+, /usr/bin/env\\), 1 stderr line"),
                logged.get(0).getFormattedMessage());
        assertEquals(Level.DEBUG, logged.get(1).getLevel());
        assertEquals("stderr: note", logged.get(1).getFormattedMessage());
        assertTrue(logged.get(2).getFormattedMessage().matches("exec /usr/bin/env: exit 0 in \\d+ ms \\(pid \\d+\\)"),
                logged.get(2).getFormattedMessage());
    }
}
