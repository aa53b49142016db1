package org.xenstorage.smctl;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/** One in-process smctl run: its exit status and what it printed. */
record SmctlRun(int status, String out, String err) {

    static SmctlRun run(SwitchLink.Connector connector, boolean tty, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status;
        try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
             PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            status = Smctl.run(args, new Terminal(o, e, tty), connector);
        }
        return new SmctlRun(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Override
    public String toString() {
        return "exit " + status + "\n--- out ---\n" + out + "--- err ---\n" + err;
    }
}
