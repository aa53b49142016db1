package org.xenstorage.smctl;

import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.messageswitch.client.SwitchException;
import picocli.CommandLine.ParseResult;

/**
 * {@code smctl}, the operator CLI of the storage daemon: every SMAPIv2 call as a sub-command
 * ({@code smctl sr-create}, {@code smctl vdi-attach3}, ...), the daemon's SR registry and diagnostics, and
 * {@code vdi-copy} with a progress bar. Talks to the daemon's mux queue over the message-switch.
 * Exit statuses are in {@link ExitStatus}; the picocli model of the commands is {@link SmctlCommands}'s (no
 * method here names a picocli type: the JVM resolves every type in the main class's method signatures before
 * {@code main}, which would load picocli even for a run that never parses with it).
 */
public final class Smctl {

    private static final String SELECTOR_PROVIDER = "java.nio.channels.spi.SelectorProvider";

    private Smctl() {
    }

    public static void main(String[] args) {
        // before any logger exists: warnings on stderr, no logging framework to configure (StderrLogging)
        if (System.getProperty("slf4j.provider") == null) {
            System.setProperty("slf4j.provider", StderrLogging.class.getName());
            // SLF4J would otherwise announce the choice on stderr
            System.setProperty("slf4j.internal.verbosity", "WARN");
        }
        // The JDK's default selector provider on Linux, named so that the first socket does not look for another
        // one in every jar on the class path (a ServiceLoader scan of 17 jars: ~20% of a fast run's time)
        if (System.getProperty(SELECTOR_PROVIDER) == null && "Linux".equals(System.getProperty("os.name"))) {
            System.setProperty(SELECTOR_PROVIDER, "sun.nio.ch.EPollSelectorProvider");
        }
        int status = run(args, Terminal.system());
        System.out.flush();
        System.err.flush();
        System.exit(status);
    }

    /** Runs one command line in-process and returns its exit status (never calls {@code System.exit}). */
    public static int run(String[] args, Terminal terminal) {
        // the fast path makes one or two calls: a blocking socket costs less start-up than Netty's event loop.
        // No lambda or method reference before the fast path's run: the first one bootstraps java.lang.invoke
        FastPath.Request fast = FastPath.parse(args);
        if (fast != null) {
            return FastPath.run(fast, terminal, new BlockingSwitchLink.Connector());
        }
        return PicocliRun.run(args, terminal, MessageSwitchLink::connect);
    }

    static int run(String[] args, Terminal terminal, SwitchLink.Connector connector) {
        return run(args, terminal, connector, connector);
    }

    /**
     * Runs a command line: through the fast path ({@link FastPath}, over {@code fastConnector}) when it takes the
     * line, else through picocli (over {@code connector}).
     */
    static int run(String[] args, Terminal terminal, SwitchLink.Connector connector,
                   SwitchLink.Connector fastConnector) {
        FastPath.Request fast = FastPath.parse(args);
        if (fast != null) {
            return FastPath.run(fast, terminal, fastConnector);
        }
        return PicocliRun.run(args, terminal, connector);
    }

    /**
     * Runs a parsed command in a session and turns its outcome into output and an exit status; both the picocli
     * path and the fast path end here.
     */
    static int execute(CommonOptions options, String name, Terminal terminal, SwitchLink.Connector connector,
                       java.util.function.ToIntFunction<Session> command) {
        if (options.verbose()) {
            terminal.err().println("smctl: dbg=" + options.dbg() + " (queue " + options.queuePrefix() + ", switch "
                    + options.address() + ")");
        }
        try (Session session = new Session(options, connector)) {
            return command.applyAsInt(session);
        } catch (UsageError e) {
            return usage(terminal, e.getMessage(), name);
        } catch (CallFailed e) {
            terminal.err().println("error: " + e.getMessage());
            return ExitStatus.STORAGE_ERROR;
        } catch (StorageException e) {
            terminal.err().println("error: " + ErrorText.of(e.error()));
            return ExitStatus.STORAGE_ERROR;
        } catch (SwitchException e) {
            terminal.err().println("error: " + describe(e, options));
            return ExitStatus.UNREACHABLE;
        } catch (Session.UnreadableReply e) {
            terminal.err().println("error: unreadable reply: " + e.getMessage());
            return ExitStatus.INTERNAL;
        } catch (RuntimeException e) {
            terminal.err().println("error: smctl failed: " + e);
            return ExitStatus.INTERNAL;
        }
    }

    /** What went wrong with the switch, and what the operator can do about it. */
    static String describe(SwitchException e, CommonOptions options) {
        String where = "the message-switch at " + options.address();
        return switch (e.kind()) {
            case NO_SUCH_QUEUE -> "nobody serves queue " + (e.queue() != null ? e.queue() : options.queuePrefix())
                    + " on " + where + " (" + e.getMessage() + "; is the storage daemon running with --queue-prefix "
                    + options.queuePrefix() + "?)";
            case TIMEOUT -> "timed out waiting for " + (e.queue() != null ? "queue " + e.queue() : where) + ": "
                    + e.getMessage() + " (see --timeout)";
            case DISCONNECTED -> "cannot reach " + where + ": " + e.getMessage()
                    + " (is the daemon running? see --switch-path / --switch)";
            case PROTOCOL -> "message-switch protocol error at " + where + ": " + e.getMessage();
            case CLOSED -> "connection to " + where + " closed: " + e.getMessage();
        };
    }

    static int usage(Terminal terminal, String message, String command) {
        terminal.err().println("error: " + message);
        terminal.err().println(command == null || command.equals("smctl") ? "see: smctl help"
                : "see: smctl help " + command);
        return ExitStatus.USAGE;
    }

    /** One command's run: its session, its parse, where it writes. */
    record Invocation(Session session, ParseResult parsed, Terminal terminal) {
        CommonOptions options() {
            return session.options();
        }
    }

    /** What a sub-command does. */
    @FunctionalInterface
    interface Handler {
        int run(Invocation invocation);
    }
}
