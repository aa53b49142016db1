package org.xenstorage.messageswitch.broker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.messageswitch.cli.MessageCli;
import org.xenstorage.messageswitch.client.SwitchAddress;
import org.xenstorage.messageswitch.client.SwitchQueueServer;
import org.xenstorage.testing.Soon;

/** message-cli's sub-commands against the embedded broker, including serve with a real program. */
class MessageCliIT {
    @TempDir
    Path dir;
    private EmbeddedSwitch sw;

    private record Result(int status, String out, String err) {
    }

    @BeforeEach
    void start() {
        sw = EmbeddedSwitch.start(Optional.of(dir.resolve("sock")), Optional.empty(), dir.resolve("state"));
    }

    @AfterEach
    void stop() {
        sw.close();
    }

    private Result cli(String... args) {
        String[] full = new String[args.length + 3];
        full[0] = args[0];
        full[1] = "--path=" + dir.resolve("sock");
        full[2] = "--debug";
        full[3] = "--connect-timeout=" + Soon.seconds(); // the 5 s default is tight on a loaded machine
        System.arraycopy(args, 1, full, 4, args.length - 1);
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = MessageCli.run(full, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Result(status, out.toString(), err.toString());
    }

    @Test
    void listDiagnosticsCallAndTail() throws Exception {
        try (SwitchQueueServer server = SwitchQueueServer.start(SwitchAddress.unix(dir.resolve("sock")), "org.xen.test.echo", 2,
                b -> CompletableFuture.completedFuture("echo " + b), TestSwitches.PATIENT)) {
            Result call = cli("call", "org.xen.test.echo", "{\"hello\":1}", "--timeout", Long.toString(Soon.seconds()));
            assertEquals(0, call.status(), call.err());
            assertEquals("echo {\"hello\":1}\n", call.out());
            // the caller can have its reply before the switch has the server's ack, pipelined behind the reply:
            // the queue counts and the trace below are only certain once the server's ack was answered
            Soon.await("the server acked the request", () -> server.served() == 1);

            Result list = cli("list", "--prefix", "org.xen.test");
            assertEquals(0, list.status(), list.err());
            assertEquals("org.xen.test.echo\n", list.out());

            Result diag = cli("diagnostics");
            assertEquals(0, diag.status(), diag.err());
            assertTrue(diag.out().contains("Permanent queues:\n  org.xen.test.echo (0 queued"), diag.out());
            // issue 14.5: the clock is explained (ours counts from the epoch, upstream's from its start)
            assertTrue(diag.out().startsWith("Switch up for "), diag.out());
            assertTrue(diag.out().contains("nanoseconds since the Unix epoch, as this project's switch reports them"),
                    diag.out());

            Result json = cli("diagnostics", "--json");
            assertTrue(json.out().startsWith("{\"start_time\":"), json.out());

            Result tail = cli("tail");
            assertEquals(0, tail.status(), tail.err());
            assertTrue(tail.out().contains("org.xen.test.echo"), tail.out());
            assertTrue(tail.out().contains("ack "), tail.out());
        }
    }

    @Test
    void callToAMissingQueueExitsTwoAndUnreachableSwitchExitsFour() {
        Result missing = cli("call", "org.xen.nobody", "{}");
        assertEquals(2, missing.status(), missing.err());
        assertTrue(missing.err().contains("does not exist"), missing.err());

        StringWriter err = new StringWriter();
        int status = MessageCli.run(new String[] {"call", "--path=" + dir.resolve("nope"), "q", "{}"},
                new PrintWriter(new StringWriter()), new PrintWriter(err, true));
        assertEquals(4, status, err.toString());
    }

    @Test
    void serveRunsTheProgramWithTheBodyOnStdinAndRepliesWithItsStdout() throws Exception {
        Path prog = dir.resolve("upper.py");
        Files.writeString(prog, "#!/usr/bin/env python3\nimport sys\nsys.stdout.write(sys.stdin.read().upper())\n");
        Files.setPosixFilePermissions(prog, PosixFilePermissions.fromString("rwx------"));
        CompletableFuture<Result> serving = CompletableFuture.supplyAsync(() -> cli("serve", "org.xen.test.upper",
                "--program", prog.toString(), "--program-timeout", Long.toString(Soon.seconds()), "--count", "1"));
        Soon.await("message-cli serve polls its queue", () -> {
            assertFalse(serving.isDone(), () -> "serve ended before serving: " + serving.join());
            return sw.table().list("org.xen.test.upper", true).contains("org.xen.test.upper");
        });
        Result call = cli("call", "org.xen.test.upper", "shout this", "--timeout", Long.toString(Soon.seconds()));
        assertEquals(0, call.status(), call.err());
        assertEquals("SHOUT THIS\n", call.out());
        Result served = Soon.get(serving);
        assertEquals(0, served.status(), served.err());
    }

    @Test
    void ackAndDestroyByHand() {
        assertEquals(0, cli("destroy", "org.xen.whatever").status());
        assertEquals(0, cli("ack", "org.xen.whatever", "3").status());
        Result bad = cli("ack", "org.xen.whatever", "notanumber");
        assertEquals(1, bad.status());
        assertTrue(bad.err().contains("notanumber"), bad.err());
    }
}
