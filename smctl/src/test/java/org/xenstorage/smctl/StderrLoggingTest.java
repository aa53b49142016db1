package org.xenstorage.smctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;

/** smctl's logging: warnings and errors on stderr in one short line each, nothing below WARN. */
class StderrLoggingTest {

    @Test
    void warningsAndErrorsReachStderrAndTheRestIsDropped() {
        Logger log = new StderrLogging().getLoggerFactory().getLogger("org.xenstorage.smctl.TaskFollower");
        assertFalse(log.isInfoEnabled());
        assertTrue(log.isWarnEnabled());
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream saved = System.err;
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            log.info("not shown {}", 1);
            log.debug("not shown either");
            log.warn("the daemon has no UPDATES ({}); polling TASK.stat instead", "Unimplemented");
            log.error("failed: {} of {}", 1, 2);
        } finally {
            System.setErr(saved);
        }
        assertEquals("smctl: WARN TaskFollower: the daemon has no UPDATES (Unimplemented); polling TASK.stat instead\n"
                + "smctl: ERROR TaskFollower: failed: 1 of 2\n", captured.toString(StandardCharsets.UTF_8));
    }
}
