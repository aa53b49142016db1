package org.xenstorage.smctl;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * smctl's fast path: a hand-written parser for the commands an operator runs most whose options are plain
 * ({@code types}, {@code sr-list}, {@code sr-registry}, {@code sr-register}, {@code sr-unregister}), run without
 * picocli. Building picocli's
 * command model and parser costs ~0.25 s per run (~170 classes in Java 5 class files, which no CDS archive can
 * hold); these commands' options are plain.
 *
 * <p>The parser accepts a command line only when it is sure picocli would parse it the same: every word a
 * known option of the command (or a common option) with its value, nothing twice, required options there,
 * no value that looks like an option or a command. Anything else ({@code help}, {@code -h}/{@code -V},
 * {@code completion}, every SMAPIv2 call, an unknown or repeated option, {@code --opt=value}, an
 * {@code @file}) returns null and goes to picocli unchanged, so the usage errors and their texts are
 * picocli's. What follows the parse (option checks, the call, its errors, output and exit status) is the
 * same code as the picocli path's. {@code FastPathTest} parses a corpus of command lines both ways.
 */
final class FastPath {
    /** A fast command: its own options (each takes a value) and which of them are required. */
    private record Command(Set<String> options, Set<String> required) {
    }

    private static final Map<String, Command> COMMANDS = Map.of(
            "types", new Command(Set.of(), Set.of()),
            "sr-list", new Command(Set.of(), Set.of()),
            "sr-registry", new Command(Set.of(), Set.of()),
            "sr-register", new Command(Set.of("--sr", "--type", "--backend-domain"), Set.of("--sr", "--type")),
            "sr-unregister", new Command(Set.of("--sr"), Set.of("--sr")));

    /** The common options that take no value. */
    private static final Set<String> COMMON_FLAGS = Set.of(CommonOptions.JSON, CommonOptions.VERBOSE);

    /**
     * A command line the fast path took.
     *
     * @param command  the command name
     * @param common   the common options' values, the later level winning (as {@code CommonOptions.from})
     * @param json     {@code --json} given
     * @param verbose  {@code --verbose} given
     * @param options  the command's own options and their values
     */
    record Request(String command, Map<String, String> common, boolean json, boolean verbose,
                   Map<String, String> options) {
    }

    private FastPath() {
    }

    /** The request of a command line the fast path serves, or null when picocli must parse it. */
    static Request parse(String[] args) {
        Map<String, String> top = new LinkedHashMap<>();
        Map<String, String> sub = new LinkedHashMap<>();
        Map<String, String> own = new LinkedHashMap<>();
        Set<String> topFlags = new java.util.HashSet<>();
        Set<String> subFlags = new java.util.HashSet<>();
        String command = null;
        Command spec = null;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (command == null && !a.startsWith("-")) {
                spec = COMMANDS.get(a);
                if (spec == null) {
                    return null;
                }
                command = a;
                continue;
            }
            Map<String, String> values = command == null ? top : sub;
            Set<String> flags = command == null ? topFlags : subFlags;
            if (COMMON_FLAGS.contains(a)) {
                if (!flags.add(a)) {
                    return null;
                }
            } else if (CommonOptions.TAKES_VALUE.contains(a) || (spec != null && spec.options().contains(a))) {
                Map<String, String> into = CommonOptions.TAKES_VALUE.contains(a) ? values : own;
                if (i + 1 >= args.length || into.containsKey(a) || !plainValue(args[i + 1])) {
                    return null;
                }
                into.put(a, args[++i]);
            } else {
                return null;
            }
        }
        if (command == null || !own.keySet().containsAll(spec.required())) {
            return null;
        }
        Map<String, String> common = new LinkedHashMap<>(top);
        common.putAll(sub);
        return new Request(command, common, topFlags.contains(CommonOptions.JSON) || subFlags.contains(CommonOptions.JSON),
                topFlags.contains(CommonOptions.VERBOSE) || subFlags.contains(CommonOptions.VERBOSE), own);
    }

    /**
     * Whether picocli certainly reads {@code word} as an option's value: not something that looks like an
     * option, an argument file or a command (picocli's readings of those vary with the model; leave them to it).
     */
    private static boolean plainValue(String word) {
        return !word.startsWith("-") && !word.startsWith("@") && !COMMANDS.containsKey(word)
                && !word.equals(CommandCatalog.HELP) && !word.equals(CommandCatalog.COMPLETION);
    }

    /** Runs a request the fast path took; the exit status. */
    static int run(Request r, Terminal terminal, SwitchLink.Connector connector) {
        CommonOptions options;
        try {
            options = CommonOptions.of(r.common(), r.json(), r.verbose());
        } catch (UsageError e) {
            return Smctl.usage(terminal, e.getMessage(), r.command());
        }
        // an anonymous class, not a lambda: the first lambda of a run bootstraps java.lang.invoke (start-up time)
        return Smctl.execute(options, r.command(), terminal, connector, new java.util.function.ToIntFunction<>() {
            @Override
            public int applyAsInt(Session session) {
                return command(r, options, terminal, session);
            }
        });
    }

    private static int command(Request r, CommonOptions options, Terminal terminal, Session session) {
        return switch (r.command()) {
            case "types" -> {
                Output.print(options.json(), terminal, session.extension(RegistryCommands.TYPES, Map.of()));
                yield ExitStatus.OK;
            }
            case "sr-list" -> {
                // SMAPIv2 SR.list: its only parameter is dbg, so the request is what StorageClient.encodeRequest makes
                JsonNode srs = session.extension("SR.list", Map.of());
                if (options.json()) {
                    Output.print(true, terminal, srs);
                } else {
                    String text = stringListText(srs);
                    if (!text.isEmpty()) {
                        terminal.out().println(text);
                    }
                }
                yield ExitStatus.OK;
            }
            case "sr-registry" -> {
                JsonNode srs = session.extension(RegistryCommands.LIST, Map.of());
                if (options.json()) {
                    Output.print(true, terminal, srs);
                } else {
                    terminal.out().println(RegistryCommands.srTable(srs));
                }
                yield ExitStatus.OK;
            }
            case "sr-register" -> {
                String type = r.options().get("--type");
                RegistryCommands.validateName("--type", type);
                Map<String, String> p = new LinkedHashMap<>();
                p.put("sr", r.options().get("--sr"));
                p.put("sr_type", type);
                String domain = r.options().get("--backend-domain");
                if (domain != null) {
                    p.put("backend_domain", domain);
                }
                Output.print(options.json(), terminal, session.extension(RegistryCommands.REGISTER, p));
                yield ExitStatus.OK;
            }
            case "sr-unregister" -> {
                Output.print(options.json(), terminal, session.extension(RegistryCommands.UNREGISTER,
                        Map.of("sr", r.options().get("--sr"))));
                yield ExitStatus.OK;
            }
            default -> throw new IllegalStateException("no fast command " + r.command());
        };
    }

    /**
     * The human form of a {@code string list} result as {@code Output.print} makes it from the decoded list (one
     * per line, {@code ""} for an empty string, {@code []} for no element), without the IDL's method table and
     * codecs; anything else, which that decode would refuse, in the untyped form it then falls back to.
     */
    static String stringListText(JsonNode result) {
        if (result == null || !result.isArray()) {
            return HumanFormat.render(result);
        }
        StringBuilder sb = new StringBuilder();
        for (JsonNode n : result) {
            if (!n.isTextual()) {
                return HumanFormat.render(result);
            }
            if (sb.length() > 0) {
                sb.append('\n');
            }
            sb.append(n.textValue().isEmpty() ? "\"\"" : n.textValue());
        }
        return result.isEmpty() ? "[]" : sb.toString();
    }

    /** The fast commands, for tests and the docs. */
    static List<String> commands() {
        return List.copyOf(new java.util.TreeSet<>(COMMANDS.keySet()));
    }
}
