package org.xenstorage.daemon.smctl;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.xenstorage.smctl.Smctl;
import org.xenstorage.smctl.Terminal;

/**
 * One smctl run in the test JVM, through its public entry point (the real message-switch link): its exit
 * status and what it printed. For the daemon's tests that drive a real daemon with smctl.
 */
public record SmctlRun(int status, String out, String err) {

    public static SmctlRun run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status;
        try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
             PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            status = Smctl.run(args, new Terminal(o, e, false));
        }
        return new SmctlRun(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Override
    public String toString() {
        return "exit " + status + "\n--- out ---\n" + out + "--- err ---\n" + err;
    }
}
