package org.xenstorage.smctl;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/** One in-process smctl run: its exit status and what it printed. */
record SmctlRun(int status, String out, String err) {

    static SmctlRun run(SwitchLink.Connector connector, boolean tty, String... args) {
        return capture(tty, t -> Smctl.run(args, t, connector));
    }

    /** Runs {@code body} on a terminal that records what it prints; the body returns the exit status. */
    static SmctlRun capture(boolean tty, java.util.function.ToIntFunction<Terminal> body) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status;
        try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
             PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            status = body.applyAsInt(new Terminal(o, e, tty));
        }
        return new SmctlRun(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Override
    public String toString() {
        return "exit " + status + "\n--- out ---\n" + out + "--- err ---\n" + err;
    }
}
