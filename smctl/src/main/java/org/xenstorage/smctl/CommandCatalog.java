package org.xenstorage.smctl;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.rpc.MethodDescriptor;
import org.xenstorage.idl.rpc.MethodTable;
import picocli.CommandLine;
import picocli.CommandLine.Help;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * Every smctl command: one per SMAPIv2 method in the IDL's {@link MethodTable} (so a method added to the
 * IDL is a command at once), the daemon's registry and diagnostics commands, the task commands and
 * {@code help}. Each sub-command also takes the common options.
 */
final class CommandCatalog {
    static final String HELP = "help";
    static final String COMPLETION = "completion";
    static final int HELP_WIDTH = 110;
    static final String VERSION = "smctl 0.1.0-SNAPSHOT";

    private final CommandSpec top;
    private final Map<String, Smctl.Handler> handlers = new LinkedHashMap<>();
    private final Map<String, CallCommand> calls = new LinkedHashMap<>();
    private final CommandLine commandLine;
    private final Predicate<String> wanted;

    /** Every command. */
    CommandCatalog() {
        this(name -> true);
    }

    /**
     * Just the command {@code name} (plus {@code help}), or none if there is no such command. The IDL's method
     * table is read only when {@code name} is not one of smctl's own commands: reading it (reflection over every
     * module interface) is a good part of a run that calls none of them.
     */
    static CommandCatalog only(String name) {
        CommandCatalog own = new CommandCatalog(name::equals, false);
        return own.commandLine().getSubcommands().containsKey(name) ? own : new CommandCatalog(name::equals, true);
    }

    /** No command at all: the top level's options, for {@code smctl --version}. */
    static CommandCatalog none() {
        return new CommandCatalog(name -> false, false);
    }

    /**
     * Only the commands {@code wanted} accepts (plus {@code help}): building ~90 picocli commands costs more
     * than the call itself, so a run builds just the one it names.
     */
    CommandCatalog(Predicate<String> wanted) {
        this(wanted, true);
    }

    private CommandCatalog(Predicate<String> wanted, boolean withIdl) {
        this.wanted = wanted;
        top = CommandSpec.create().name("smctl").version(VERSION);
        addHelpOptions(top);
        top.usageMessage().sortOptions(false).width(HELP_WIDTH)
                .description("Operator CLI of the storage daemon: every SMAPIv2 call, the SR registry, diagnostics.",
                        "Exit status: 0 ok, 1 storage error, 2 usage, 3 switch unreachable/timeout, 4 smctl failure.")
                .footer("", "smctl help <command> shows a command's options.");
        CommonOptions.addTo(top);
        commandLine = new CommandLine(top);
        commandLine.setColorScheme(Help.defaultColorScheme(Help.Ansi.OFF));
        List<MethodDescriptor> methods = withIdl ? new ArrayList<>(MethodTable.all()) : new ArrayList<>();
        // listed module by module (upstream's order), methods alphabetically
        methods.sort(Comparator.<MethodDescriptor>comparingInt(m -> StorageService.MODULES.indexOf(m.module()))
                .thenComparing(MethodDescriptor::wireName));
        for (MethodDescriptor m : methods) {
            if (!wanted.test(CallCommand.commandName(m.wireName()))) {
                continue;
            }
            CallCommand call = CallCommand.of(m, CommonOptions.RESERVED);
            CommandSpec spec = call.spec();
            if (m.wireName().equals("SR.create")) {
                spec.addOption(OptionSpec.builder(CallHandler.TYPE_OPTION).paramLabel("<type>").type(String.class)
                        .description("also register the SR with the daemon as this backend type, before the create")
                        .build());
            }
            if (m.wireName().equals("SR.probe")) {
                // probes go to a backend's own queue, as xapi's call_probe sends them; the mux has no SR to route by
                OptionSpec queue = spec.findOption("--queue");
                spec.remove(queue);
                spec.addOption(queue.toBuilder().required(false).description("wire 'queue': text (default "
                        + "<prefix>.<type> with --type, else required)").build());
                spec.addOption(OptionSpec.builder(CallHandler.TYPE_OPTION).paramLabel("<type>").type(String.class)
                        .description("send the probe to the backend queue <prefix>.<type> (type lower-cased, as "
                                + "xapi does) instead of the mux, which answers Unimplemented").build());
            }
            if (m.wireName().equals("DATA.copy")) {
                spec.addOption(OptionSpec.builder(CallHandler.WAIT_OPTION).type(boolean.class).arity("0")
                        .description("follow the task: progress on stderr, then the result and throughput").build());
            }
            calls.put(call.name(), call);
            add(spec, new CallHandler(call));
        }
        RegistryCommands.addTo(this);
        TaskCommands.addTo(this);
        CommandSpec help = CommandSpec.create().name(HELP);
        help.usageMessage().description("Show the commands, or one command's options");
        help.addPositional(PositionalParamSpec.builder().arity("0..1").paramLabel("<command>").type(String.class)
                .build());
        addSpec(help);
        if (wanted.test(COMPLETION)) {
            CommandSpec completion = CommandSpec.create().name(COMPLETION);
            completion.usageMessage().description("Print a bash completion script: source <(smctl completion)");
            addSpec(completion);
        }
    }

    /** Adds a sub-command with its handler (and the common options). */
    void add(CommandSpec spec, Smctl.Handler handler) {
        if (!wanted.test(spec.name())) {
            return;
        }
        if (handlers.put(spec.name(), handler) != null) {
            throw new IllegalStateException("two commands named " + spec.name());
        }
        addSpec(spec);
    }

    private void addSpec(CommandSpec spec) {
        // the command's own options first, then the common ones, as declared
        spec.usageMessage().sortOptions(false).width(HELP_WIDTH);
        spec.version(VERSION);
        addHelpOptions(spec);
        CommonOptions.addTo(spec);
        CommandLine sub = new CommandLine(spec);
        sub.setColorScheme(Help.defaultColorScheme(Help.Ansi.OFF));
        commandLine.addSubcommand(spec.name(), sub);
    }

    /**
     * {@code -h/--help} and {@code -V/--version}, as picocli's standard mixin has them, built directly: the mixin
     * is read from annotations by reflection, which costs start-up time on every run.
     */
    private static void addHelpOptions(CommandSpec spec) {
        spec.addOption(OptionSpec.builder("-h", "--help").usageHelp(true)
                .description("Show this help message and exit.").build());
        spec.addOption(OptionSpec.builder("-V", "--version").versionHelp(true)
                .description("Print version information and exit.").build());
    }

    CommandLine commandLine() {
        return commandLine;
    }

    Smctl.Handler handler(String name) {
        Smctl.Handler h = handlers.get(name);
        if (h == null) {
            throw new UsageError("no command '" + name + "'");
        }
        return h;
    }

    /**
     * The command a command line names, found without building any command: the first word that is neither
     * an option nor the value of a common option that takes one. Null when there is none.
     */
    static String commandWord(String[] args) {
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--")) {
                return null;
            }
            if (a.startsWith("-")) {
                if (CommonOptions.TAKES_VALUE.contains(a)) {
                    i++;
                }
                continue;
            }
            return a;
        }
        return null;
    }

    /** The generated SMAPIv2 commands by name. */
    Map<String, CallCommand> calls() {
        return calls;
    }
}
