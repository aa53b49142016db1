package org.xenstorage.smctl;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.ParseResult;

/**
 * The picocli path of a run: every command line {@link FastPath} does not take (help, completion, the SMAPIv2
 * calls, usage errors). Kept out of {@link Smctl} so that a fast run does not even load picocli's classes
 * (Java 5 class files: no CDS archive holds them, so each is read and verified at every run).
 */
final class PicocliRun {
    private PicocliRun() {
    }

    /** Every command's model (see {@link SmctlCommands#commandLine()}). */
    static CommandLine commandLine() {
        return new CommandCatalog().commandLine();
    }

    static int run(String[] args, Terminal terminal, SwitchLink.Connector connector) {
        CommandCatalog catalog = catalogFor(args);
        CommandLine top = catalog.commandLine();
        ParseResult parsed;
        try {
            parsed = top.parseArgs(args);
        } catch (CommandLine.ParameterException e) {
            return Smctl.usage(terminal, e.getMessage(), e.getCommandLine().getCommandName());
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
            return Smctl.usage(terminal, e.getMessage(), name);
        }
        return Smctl.execute(options, name, terminal, connector,
                session -> catalog.handler(name).run(new Smctl.Invocation(session, sub, terminal)));
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
}
