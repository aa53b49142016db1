package org.xenstorage.messageswitch.cli;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.xenstorage.exec.ChildProcessRunner;
import org.xenstorage.exec.ExecRequest;
import org.xenstorage.exec.ExecResult;
import org.xenstorage.messageswitch.client.SwitchAddress;
import org.xenstorage.messageswitch.client.SwitchConnection;
import org.xenstorage.messageswitch.client.SwitchException;
import org.xenstorage.messageswitch.client.SwitchOptions;
import org.xenstorage.messageswitch.client.SwitchQueueServer;
import org.xenstorage.messageswitch.client.SwitchRpcClient;
import org.xenstorage.messageswitch.client.Transports;
import org.xenstorage.messageswitch.protocol.Diagnostics;
import org.xenstorage.messageswitch.protocol.MessageId;
import org.xenstorage.messageswitch.protocol.MessageKind;
import org.xenstorage.messageswitch.protocol.RpcJson;
import org.xenstorage.messageswitch.protocol.SwitchResponse;
import org.xenstorage.messageswitch.protocol.TraceEvent;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code message-cli}: the operator's view of a message-switch (upstream's tool of the same name):
 * list queues, dump diagnostics, follow the trace, call a queue, serve a queue with a program,
 * ack or destroy by hand, shut the switch down. Exit status: 0 ok, 1 usage or protocol error,
 * 2 no such queue, 3 timeout, 4 cannot reach the switch.
 */
@Command(name = "message-cli", mixinStandardHelpOptions = true, version = "message-cli (xenstorage) 0.1.0",
        description = "Talk to a message-switch (upstream's or the embedded one).",
        subcommands = {MessageCli.ListCmd.class, MessageCli.DiagnosticsCmd.class, MessageCli.CallCmd.class,
                MessageCli.ServeCmd.class, MessageCli.TailCmd.class, MessageCli.AckCmd.class,
                MessageCli.DestroyCmd.class, MessageCli.ShutdownCmd.class})
public final class MessageCli implements Callable<Integer> {
    static final int NO_SUCH_QUEUE = 2;
    static final int TIMEOUT = 3;
    static final int UNREACHABLE = 4;

    @Override
    public Integer call() {
        new CommandLine(this).usage(System.err);
        return 1;
    }

    public static void main(String[] args) {
        if (System.getProperty("logback.configurationFile") == null) {
            boolean debug = List.of(args).contains("--debug");
            System.setProperty("logback.configurationFile",
                    debug ? "message-cli-logback-debug.xml" : "message-cli-logback.xml");
        }
        System.exit(run(args, new PrintWriter(System.out, true, StandardCharsets.UTF_8),
                new PrintWriter(System.err, true, StandardCharsets.UTF_8)));
    }

    /** Runs the CLI with the given streams (tests call this); returns the exit status. */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cl = new CommandLine(new MessageCli());
        cl.setOut(out);
        cl.setErr(err);
        cl.setParameterExceptionHandler((e, a) -> {
            err.println("message-cli: " + e.getMessage());
            e.getCommandLine().usage(err);
            return 1;
        });
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
            err.println("message-cli: " + (e.getMessage() != null ? e.getMessage() : e.toString()));
            if (List.of(args).contains("--debug") || List.of(args).contains("-v")) {
                e.printStackTrace(err);
            }
            if (e instanceof CommandLine.ParameterException) {
                return 1;
            }
            if (e instanceof SwitchException se) {
                return switch (se.kind()) {
                    case NO_SUCH_QUEUE -> NO_SUCH_QUEUE;
                    case TIMEOUT -> TIMEOUT;
                    case DISCONNECTED -> UNREACHABLE;
                    default -> 1;
                };
            }
            return 1;
        });
        return cl.execute(args);
    }

    /** Where the switch is: {@code --path} (Unix socket) or {@code --switch} (unix:/p or tcp:host:port). */
    static class Common {
        @Option(names = "--path", description = "the switch's Unix socket (default ${DEFAULT-VALUE})",
                defaultValue = "/var/run/message-switch/sock")
        Path path;

        @Option(names = "--switch", description = "switch address: unix:/path or tcp:host:port (overrides --path)")
        String address;

        @Option(names = {"--debug", "-v"}, description = "log the client's workings to stderr")
        boolean debug;

        @Option(names = "--connect-timeout", defaultValue = "5",
                description = "seconds to connect and log in to the switch (default ${DEFAULT-VALUE})")
        double connectTimeoutSeconds;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        SwitchOptions options() {
            return SwitchOptions.defaults().withConnectTimeout(Duration.ofMillis((long) (connectTimeoutSeconds * 1000)));
        }

        SwitchAddress switchAddress() {
            return address != null ? SwitchAddress.parse(address) : SwitchAddress.unix(path);
        }

        PrintWriter out() {
            return spec.commandLine().getOut();
        }

        /** A raw connection, logged in as this process. */
        SwitchConnection connect() throws Exception {
            SwitchConnection c = await(SwitchConnection.open(switchAddress(), Transports.sharedClientGroup(),
                    options()));
            try {
                await(c.login("message-cli-" + ProcessHandle.current().pid()));
            } catch (Exception e) {
                c.close();
                throw e;
            }
            return c;
        }

        static <T> T await(CompletableFuture<T> f) throws Exception {
            try {
                return f.get(60, TimeUnit.SECONDS);
            } catch (java.util.concurrent.ExecutionException e) {
                throw e.getCause() instanceof Exception ex ? ex : e;
            }
        }
    }

    @Command(name = "list", description = "List queue names (optionally only those someone polls).")
    static final class ListCmd extends Common implements Callable<Integer> {
        @Option(names = "--prefix", defaultValue = "", description = "only names starting with this")
        String prefix;

        @Option(names = "--alive", description = "only queues a server is polling")
        boolean alive;

        @Override
        public Integer call() throws Exception {
            try (SwitchConnection c = connect()) {
                for (String q : await(c.list(prefix, alive))) {
                    out().println(q);
                }
            }
            return 0;
        }
    }

    @Command(name = "diagnostics", description = "Dump every queue and its unacked messages.")
    static final class DiagnosticsCmd extends Common implements Callable<Integer> {
        @Option(names = "--json", description = "print the switch's JSON as is")
        boolean json;

        @Override
        public Integer call() throws Exception {
            try (SwitchConnection c = connect()) {
                Diagnostics d = await(c.diagnostics());
                if (json) {
                    out().println(RpcJson.write(RpcJson.diagnostics(d)));
                    return 0;
                }
                out().print(clockLines(d));
                section("Permanent queues", d.permanentQueues(), d.currentTime());
                section("Transient queues", d.transientQueues(), d.currentTime());
            }
            return 0;
        }

        /**
         * The switch's uptime and what its raw times mean: upstream's switch reports {@code start_time} 0 and
         * {@code current_time} in ns since it started, ours ns since the epoch; read as dates, upstream's
         * would be 1970. Ages below are {@code current_time} minus a message's time, right for both.
         */
        static String clockLines(Diagnostics d) {
            String raw = "start_time " + d.startTime() + ", current_time " + d.currentTime();
            long up = d.currentTime() - d.startTime();
            if (up < 0) {
                return "Switch clock: " + raw + " (current_time before start_time: uptime unknown)\n";
            }
            if (d.clock() == Diagnostics.Clock.SINCE_SWITCH_START) {
                return "Switch up for " + span(up) + "\n"
                        + "  (" + raw + ": nanoseconds since the switch started, as upstream's message-switch\n"
                        + "   reports them; it gives no wall-clock time, so ages below are relative to current_time)\n";
            }
            return "Switch up for " + span(up) + ", since " + instant(d.startTime()) + "; now " + instant(d.currentTime())
                    + "\n  (" + raw + ": nanoseconds since the Unix epoch, as this project's switch reports them)\n";
        }

        private void section(String title, Map<String, Diagnostics.QueueState> queues, long now) {
            out().println(title + ":");
            if (queues.isEmpty()) {
                out().println("  (none)");
            }
            queues.forEach((name, q) -> {
                String poll = q.nextTransferExpected().isPresent()
                        ? (q.nextTransferExpected().getAsLong() >= now ? "being polled" : "not polled for "
                        + Duration.ofNanos(now - q.nextTransferExpected().getAsLong()).toSeconds() + " s")
                        : "never polled";
                out().printf("  %s (%d queued, %s)%n", name, q.contents().size(), poll);
                for (Diagnostics.Queued m : q.contents()) {
                    out().printf("    %d: %s, %s old: %s%n", m.id().id(), kind(m.entry().message().kind()),
                            Duration.ofNanos(Math.max(0, now - m.entry().time())).toMillis() + " ms",
                            abbreviate(m.entry().message().payload()));
                }
            });
        }
    }

    @Command(name = "call", description = "Send BODY to QUEUE and print the reply.")
    static final class CallCmd extends Common implements Callable<Integer> {
        @Parameters(index = "0", description = "destination queue")
        String queue;

        @Parameters(index = "1", arity = "0..1", description = "request body (or use --body / --file)")
        String positionalBody;

        @Option(names = "--body", description = "request body")
        String body;

        @Option(names = "--file", description = "read the request body from this file")
        Path file;

        @Option(names = "--timeout", defaultValue = "30", description = "seconds to wait for the reply (default ${DEFAULT-VALUE})")
        double timeoutSeconds;

        @Override
        public Integer call() throws Exception {
            String text = positionalBody != null ? positionalBody : body != null ? body
                    : file != null ? Files.readString(file) : null;
            if (text == null) {
                throw new CommandLine.ParameterException(spec.commandLine(), "give the request body (BODY, --body or --file)");
            }
            try (SwitchRpcClient client = SwitchRpcClient.connect(switchAddress(), "message-cli", options())) {
                out().println(client.call(queue, text, Duration.ofMillis((long) (timeoutSeconds * 1000))));
            }
            return 0;
        }
    }

    @Command(name = "serve", description = "Serve QUEUE: run PROGRAM for each request, body on its stdin, its stdout is the reply.")
    static final class ServeCmd extends Common implements Callable<Integer> {
        @Parameters(index = "0", description = "queue to serve")
        String queue;

        @Option(names = "--program", required = true, description = "program to run (path; no shell)")
        Path program;

        @Parameters(index = "1..*", description = "arguments passed to the program")
        List<String> args = new ArrayList<>();

        @Option(names = "--concurrency", defaultValue = "4", description = "requests handled at once (default ${DEFAULT-VALUE})")
        int concurrency;

        @Option(names = "--program-timeout", defaultValue = "60", description = "seconds before a program run is killed")
        int programTimeout;

        @Option(names = "--count", defaultValue = "0", description = "exit after this many requests (0: serve forever)")
        long count;

        @Override
        public Integer call() throws Exception {
            Path exe = program.toAbsolutePath().normalize();
            if (!Files.isRegularFile(exe) || !Files.isExecutable(exe)) {
                throw new CommandLine.ParameterException(spec.commandLine(), "not an executable file: " + exe);
            }
            List<String> argv = new ArrayList<>();
            argv.add(exe.toString());
            argv.addAll(args);
            Map<String, String> env = new HashMap<>();
            env.put("PATH", System.getenv().getOrDefault("PATH", "/usr/bin:/bin"));
            env.put("MESSAGE_SWITCH_QUEUE", queue);
            CountDownLatch done = new CountDownLatch(1);
            ExecutorService runners = Executors.newFixedThreadPool(Math.max(1, concurrency), r -> {
                Thread t = new Thread(r, "serve-program");
                t.setDaemon(true);
                return t;
            });
            java.util.concurrent.atomic.AtomicLong handled = new java.util.concurrent.atomic.AtomicLong();
            try (ChildProcessRunner runner = new ChildProcessRunner();
                 SwitchQueueServer server = SwitchQueueServer.start(switchAddress(), queue, concurrency, req ->
                         runner.runAsync(ExecRequest.of(argv, env, Duration.ofSeconds(programTimeout))
                                 .withStdin(req.getBytes(StandardCharsets.UTF_8)), runners).thenApply(r -> {
                                     if (count > 0 && handled.incrementAndGet() >= count) {
                                         done.countDown();
                                     }
                                     return reply(r);
                                 }), options())) {
                spec.commandLine().getErr().println("serving " + queue + " with " + exe);
                done.await();
                server.shutdown(Duration.ofSeconds(10));
            } finally {
                runners.shutdownNow();
            }
            return 0;
        }

        private String reply(ExecResult r) {
            if (!r.succeeded()) {
                spec.commandLine().getErr().printf("program %s: %s, status %d: %s%n", program, r.termination(),
                        r.exitStatus(), abbreviate(r.stderrText()));
            }
            return r.stdoutText();
        }
    }

    @Command(name = "tail", description = "Print the switch's trace of messages and acks.")
    static final class TailCmd extends Common implements Callable<Integer> {
        @Option(names = {"--follow", "-f"}, description = "keep printing new events")
        boolean follow;

        @Option(names = "--from", defaultValue = "-1", description = "print events numbered above this")
        long from;

        @Override
        public Integer call() throws Exception {
            try (SwitchConnection c = connect()) {
                long ackTo = from;
                do {
                    List<SwitchResponse.NumberedEvent> events = await(c.trace(ackTo, Duration.ofSeconds(follow ? 5 : 0)));
                    for (SwitchResponse.NumberedEvent e : events) {
                        out().println(format(e));
                        ackTo = Math.max(ackTo, e.number());
                    }
                    out().flush();
                } while (follow);
            }
            return 0;
        }

        private static String format(SwitchResponse.NumberedEvent n) {
            TraceEvent e = n.event();
            String who = e.input().map(s -> s + " -> ").orElse("") + e.queue() + e.output().map(s -> " -> " + s).orElse("");
            String what;
            if (e.message() instanceof TraceEvent.Sent s) {
                what = kind(s.message().kind()) + " " + s.id().id() + ": " + abbreviate(s.message().payload());
            } else {
                what = "ack " + ((TraceEvent.Acked) e.message()).id().id();
            }
            String took = e.processingTime().isPresent() ? " (" + e.processingTime().getAsLong() / 1000 + " us)" : "";
            return String.format("%d %s %s %s%s", n.number(), Instant.ofEpochMilli((long) (e.time() * 1000)), who, what, took);
        }
    }

    @Command(name = "ack", description = "Acknowledge (remove) message ID on QUEUE.")
    static final class AckCmd extends Common implements Callable<Integer> {
        @Parameters(index = "0")
        String queue;

        @Parameters(index = "1")
        long id;

        @Override
        public Integer call() throws Exception {
            try (SwitchConnection c = connect()) {
                await(c.ack(new MessageId(queue, id)));
            }
            return 0;
        }
    }

    @Command(name = "destroy", description = "Destroy QUEUE and its messages.")
    static final class DestroyCmd extends Common implements Callable<Integer> {
        @Parameters(index = "0")
        String queue;

        @Override
        public Integer call() throws Exception {
            try (SwitchConnection c = connect()) {
                await(c.destroy(queue));
            }
            return 0;
        }
    }

    @Command(name = "shutdown", description = "Ask the switch to exit.")
    static final class ShutdownCmd extends Common implements Callable<Integer> {
        @Override
        public Integer call() throws Exception {
            try (SwitchConnection c = connect()) {
                await(c.shutdownSwitch());
            }
            return 0;
        }
    }

    static String kind(MessageKind k) {
        return k instanceof MessageKind.Request r ? "request (reply to " + r.replyTo() + ")"
                : "response to " + ((MessageKind.Response) k).requestId().queue() + "/" + ((MessageKind.Response) k).requestId().id();
    }

    static String abbreviate(String s) {
        String one = s.replace('\n', ' ');
        return one.length() <= 120 ? one : one.substring(0, 117) + "...";
    }

    static String instant(long nanos) {
        return Instant.ofEpochSecond(0, nanos).toString();
    }

    /** A duration as days, hours, minutes and seconds ("2 d 3 h 0 min 5 s"), or ms under a second. */
    static String span(long nanos) {
        Duration d = Duration.ofNanos(nanos);
        if (d.toSeconds() == 0) {
            return d.toMillis() + " ms";
        }
        StringBuilder b = new StringBuilder();
        if (d.toDays() > 0) {
            b.append(d.toDays()).append(" d ");
        }
        if (b.length() > 0 || d.toHoursPart() > 0) {
            b.append(d.toHoursPart()).append(" h ");
        }
        if (b.length() > 0 || d.toMinutesPart() > 0) {
            b.append(d.toMinutesPart()).append(" min ");
        }
        return b.append(d.toSecondsPart()).append(" s").toString();
    }
}
