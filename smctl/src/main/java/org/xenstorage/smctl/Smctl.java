package org.xenstorage.smctl;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.messageswitch.client.SwitchException;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.ParseResult;

/**
 * {@code smctl}, the operator CLI of the storage daemon: every SMAPIv2 call as a sub-command
 * ({@code smctl sr-create}, {@code smctl vdi-attach3}, ...), the daemon's SR registry and diagnostics, and
 * {@code vdi-copy} with a progress bar. Talks to the daemon's mux queue over the message-switch.
 * Exit statuses are in {@link ExitStatus}.
 */
public final class Smctl {

    private Smctl() {
    }

    public static void main(String[] args) {
        // before any logger exists: warnings on stderr, no logging framework to configure (StderrLogging)
        if (System.getProperty("slf4j.provider") == null) {
            System.setProperty("slf4j.provider", StderrLogging.class.getName());
            // SLF4J would otherwise announce the choice on stderr
            System.setProperty("slf4j.internal.verbosity", "WARN");
        }
        int status = run(args, Terminal.system());
        System.out.flush();
        System.err.flush();
        System.exit(status);
    }

    /**
     * The picocli model of every command, as {@code smctl help} and {@code smctl completion} see it: what the
     * package's man pages and bash completion are generated from.
     */
    public static CommandLine commandLine() {
        return new CommandCatalog().commandLine();
    }

    /** Runs one command line in-process and returns its exit status (never calls {@code System.exit}). */
    public static int run(String[] args, Terminal terminal) {
        return run(args, terminal, MessageSwitchLink::connect);
    }

    static int run(String[] args, Terminal terminal, SwitchLink.Connector connector) {
        CommandCatalog catalog = catalogFor(args);
        CommandLine top = catalog.commandLine();
        ParseResult parsed;
        try {
            parsed = top.parseArgs(args);
        } catch (CommandLine.ParameterException e) {
            return usage(terminal, e.getMessage(), e.getCommandLine().getCommandName());
        }
        if (parsed.isUsageHelpRequested()) {
            top.usage(terminal.out());
            return ExitStatus.OK;
        }
        if (parsed.isVersionHelpRequested()) {
            top.printVersionHelp(terminal.out());
            return ExitStatus.OK;
        }
        ParseResult sub = parsed.subcommand();
        if (sub == null) {
            top.usage(terminal.err());
            return ExitStatus.USAGE;
        }
        if (sub.isUsageHelpRequested()) {
            sub.commandSpec().commandLine().usage(terminal.out());
            return ExitStatus.OK;
        }
        if (sub.isVersionHelpRequested()) {
            top.printVersionHelp(terminal.out());
            return ExitStatus.OK;
        }
        String name = sub.commandSpec().name();
        if (name.equals(CommandCatalog.HELP)) {
            return help(top, sub, terminal);
        }
        if (name.equals(CommandCatalog.COMPLETION)) {
            // every command, whatever this run built
            terminal.out().print(AutoComplete.bash("smctl", new CommandCatalog().commandLine()));
            return ExitStatus.OK;
        }
        CommonOptions options;
        try {
            options = CommonOptions.from(List.of(parsed, sub));
        } catch (UsageError e) {
            return usage(terminal, e.getMessage(), name);
        }
        if (options.verbose()) {
            terminal.err().println("smctl: dbg=" + options.dbg() + " (queue " + options.queuePrefix() + ", switch "
                    + options.address() + ")");
        }
        try (Session session = new Session(options, connector)) {
            return catalog.handler(name).run(new Invocation(session, sub, terminal));
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

    /** Just the named command when the line names one (help and usage errors need them all). */
    private static CommandCatalog catalogFor(String[] args) {
        String word = CommandCatalog.commandWord(args);
        if (word == null) {
            List<String> all = Arrays.asList(args);
            boolean versionOnly = (all.contains("--version") || all.contains("-V"))
                    && !all.contains("--help") && !all.contains("-h");
            // --version needs no command; the usage (or its error) lists them all
            return versionOnly ? CommandCatalog.none() : new CommandCatalog();
        }
        if (word.equals(CommandCatalog.HELP)) {
            String target = CommandCatalog.commandWord(Arrays.copyOfRange(args,
                    Arrays.asList(args).indexOf(word) + 1, args.length));
            CommandCatalog only = target == null ? null : CommandCatalog.only(target);
            return only != null && only.commandLine().getSubcommands().containsKey(target) ? only : new CommandCatalog();
        }
        CommandCatalog only = CommandCatalog.only(word);
        return only.commandLine().getSubcommands().containsKey(word) ? only : new CommandCatalog();
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

    private static int help(CommandLine top, ParseResult sub, Terminal terminal) {
        String name = sub.matchedPositionalValue(0, null);
        if (name == null) {
            top.usage(terminal.out());
            return ExitStatus.OK;
        }
        Map<String, CommandLine> subs = top.getSubcommands();
        CommandLine target = subs.get(name);
        if (target == null) {
            terminal.err().println("error: no command '" + name + "' (smctl help lists them)");
            return ExitStatus.USAGE;
        }
        target.usage(terminal.out());
        return ExitStatus.OK;
    }

    private static int usage(Terminal terminal, String message, String command) {
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
