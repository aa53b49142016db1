package org.xenstorage.smctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.ParseResult;

/**
 * The fast path against picocli: every command line of a corpus that the fast parser takes parses to the same
 * request under picocli (command, common options, the command's options); the lines it must leave to picocli
 * are left; and whole runs (output, error text, exit status) are the same both ways, for good and bad lines.
 */
class FastPathTest {
    private static final String MUX = "org.xen.xapi.storage";

    /** Command lines the fast path must take. */
    private static final List<List<String>> TAKEN = List.of(
            List.of("types"),
            List.of("types", "--json"),
            List.of("--json", "types"),
            List.of("--json", "types", "--json"),
            List.of("--verbose", "types", "--dbg", "x"),
            List.of("--dbg", "a", "types", "--dbg", "b"),
            List.of("--switch-path", "/tmp/s.sock", "types"),
            List.of("types", "--switch", "tcp:127.0.0.1:8080"),
            List.of("--switch", "unix:/tmp/x", "types", "--queue-prefix", "org.example.q"),
            List.of("--timeout", "2.5", "types", "--timeout", "7"),
            List.of("types", "--progress", "none"),
            List.of("types", "--dbg", ""),
            List.of("types", "--dbg", "with space"),
            List.of("types", "--dbg", "vdi-list"),
            List.of("sr-list"),
            List.of("--json", "sr-list", "--dbg", "d"),
            List.of("sr-registry"),
            List.of("sr-registry", "--json", "--verbose"),
            List.of("sr-register", "--sr", "s1", "--type", "ext"),
            List.of("sr-register", "--type", "ext", "--sr", "s1", "--backend-domain", "vm-1"),
            List.of("--json", "sr-register", "--sr", "", "--type", "x"),
            List.of("sr-unregister", "--sr", "s1"),
            List.of("sr-unregister", "--sr", "s1", "--json", "--dbg", "d"),
            // taken here, refused by CommonOptions' checks after the parse (same code on both paths)
            List.of("types", "--timeout", "soon"),
            List.of("types", "--switch", "bogus"),
            List.of("types", "--switch", "tcp:h:1", "--switch-path", "/x"),
            List.of("types", "--queue-prefix", "a/b"),
            List.of("types", "--progress", "fancy"),
            List.of("sr-register", "--sr", "s", "--type", "bad/type"));

    /** Command lines the fast path must leave to picocli. */
    private static final List<List<String>> LEFT = List.of(
            List.of(),
            List.of("help"),
            List.of("help", "types"),
            List.of("types", "-h"),
            List.of("types", "--help"),
            List.of("-V"),
            List.of("--version"),
            List.of("completion"),
            List.of("sr-list", "--sr", "s"),
            List.of("types", "--dbg", "sr-list"),
            List.of("vdi-stat", "--sr", "s", "--vdi", "v"),
            List.of("types", "extra"),
            List.of("types", "types"),
            List.of("types", "--sr", "s"),
            List.of("types", "--json=true"),
            List.of("types", "--dbg=x"),
            List.of("types", "--json", "--json"),
            List.of("types", "--dbg", "a", "--dbg", "b"),
            List.of("types", "--dbg"),
            List.of("types", "--dbg", "--json"),
            List.of("types", "--dbg", "types"),
            List.of("types", "--dbg", "help"),
            List.of("types", "@args.txt"),
            List.of("types", "--"),
            List.of("--sr", "s", "sr-unregister"),
            List.of("sr-register", "--sr", "s"),
            List.of("sr-register", "--type", "t"),
            List.of("sr-unregister"),
            List.of("sr-unregister", "--sr", "a", "--sr", "b"),
            List.of("sr-unregister", "--sr", "-x"),
            List.of("TYPES"),
            List.of("-j", "types"),
            List.of(""));

    @Test
    void linesTheFastPathTakesParseTheSameUnderPicocli() {
        for (List<String> line : TAKEN) {
            String[] args = line.toArray(String[]::new);
            FastPath.Request fast = FastPath.parse(args);
            assertNotNull(fast, "the fast path should take " + line);
            assertEquals(picocliRequest(args), fast, "parse of " + line);
        }
    }

    @Test
    void linesItDoesNotKnowExactlyGoToPicocli() {
        for (List<String> line : LEFT) {
            assertNull(FastPath.parse(line.toArray(String[]::new)), "the fast path should leave " + line);
        }
    }

    @Test
    void runsGiveTheSameOutputErrorsAndStatusBothWays() {
        List<List<String>> all = new ArrayList<>(TAKEN);
        all.addAll(LEFT);
        all.add(List.of("sr-registry"));
        all.add(List.of("--queue-prefix", "org.example.nobody", "types"));
        for (List<String> line : all) {
            if (line.contains("--verbose") && !line.contains("--dbg")) {
                continue; // prints the run's random dbg
            }
            String[] args = line.toArray(String[]::new);
            SmctlRun fast = run(args, false);
            SmctlRun picocli = run(args, true);
            assertEquals(picocli, fast, "run of " + line);
        }
        // and the registry commands change the daemon's state the same way
        Map<String, TinyStorage> viaFast = fresh();
        Map<String, TinyStorage> viaPicocli = fresh();
        String[] register = {"sr-register", "--sr", "s1", "--type", "ext", "--backend-domain", "d"};
        assertEquals(runOn(viaPicocli, true, register), runOn(viaFast, false, register));
        SmctlRun listed = runOn(viaFast, true, "sr-registry");
        assertTrue(listed.out().contains("s1"), listed.toString());
        assertEquals(runOn(viaPicocli, true, "sr-registry"), listed);
        String[] unregister = {"sr-unregister", "--sr", "s1"};
        assertEquals(runOn(viaPicocli, true, unregister), runOn(viaFast, false, unregister));
        assertEquals(runOn(viaPicocli, true, "--json", "sr-registry"), runOn(viaFast, true, "--json", "sr-registry"));
        // sr-list with an SR in it, human and JSON
        Map<String, TinyStorage> withSrs = fresh();
        String[] create = {"sr-create", "--type", "ext", "--sr", "sr1", "--name-label", "L", "--device-config",
            "path=/srv/sr1", "--physical-size", "1G"};
        assertEquals(0, runOn(withSrs, true, create).status());
        assertEquals(0, runOn(withSrs, true, "sr-attach", "--sr", "sr1", "--device-config", "path=/srv/sr1").status());
        SmctlRun srs = runOn(withSrs, false, "sr-list");
        assertEquals("sr1\n", srs.out(), srs.toString());
        assertEquals(runOn(withSrs, true, "sr-list"), srs);
        assertEquals(runOn(withSrs, true, "--json", "sr-list"), runOn(withSrs, false, "--json", "sr-list"));
    }

    @Test
    void takenLinesReallyTakeTheFastPath() {
        // a connector that only the fast path gets: a run through picocli would fail to connect
        SwitchLink.Connector none = (a, t) -> {
            throw new AssertionError("picocli path used");
        };
        Map<String, TinyStorage> queues = fresh();
        SwitchLink.Connector fast = (a, t) -> new InProcessLink(queues);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int status = Smctl.run(new String[] {"types"}, new Terminal(new PrintStream(out, true, StandardCharsets.UTF_8),
                System.err, false), none, fast);
        assertEquals(0, status);
        assertEquals("ext\nfile\n", out.toString(StandardCharsets.UTF_8));
    }

    @Test
    void hex8IsStringFormatsEightHexDigits() {
        for (int n : new int[] {0, 1, 0xabc, -1, Integer.MIN_VALUE, Integer.MAX_VALUE, 0x0fffffff}) {
            assertEquals(String.format("%08x", n), CommonOptions.hex8(n));
        }
    }

    @Test
    void aStringListReadsAsTheTypedOutputPrintsIt() throws Exception {
        java.lang.reflect.Type type = org.xenstorage.idl.rpc.MethodTable.byWireName("SR.list").orElseThrow()
                .resultType();
        for (String json : List.of("[]", "[\"a\"]", "[\"a\",\"\",\"b c\"]", "[\"\"]", "[1,2]", "[\"a\",1]", "null",
                "{\"x\":1}", "\"s\"", "[[\"a\"]]", "[null]", "[true]")) {
            com.fasterxml.jackson.databind.JsonNode node = org.xenstorage.idl.wire.Json.parse(json);
            String typed;
            try {
                typed = HumanFormat.render(org.xenstorage.idl.wire.WireCodec.decode(node, type), type);
            } catch (org.xenstorage.idl.wire.WireException | IllegalArgumentException | NullPointerException e) {
                typed = HumanFormat.render(node);
            }
            assertEquals(typed, FastPath.stringListText(node), json);
        }
    }

    @Test
    void queueNamesAreCheckedAsTheRegexDid() {
        for (String s : List.of("", "a", "org.xen.xapi.storage", "a_b-c.9", "a/b", "a b", "é", "A-Z", "-", ".", "x\n",
                "a\u0661", "tab\t")) {
            assertEquals(!s.isEmpty() && s.matches("[A-Za-z0-9._-]+"), CommonOptions.isQueueName(s), s);
        }
    }

    @Test
    void fastCommandsAreRealCommands() {
        CommandLine all = SmctlCommands.commandLine();
        for (String c : FastPath.commands()) {
            assertTrue(all.getSubcommands().containsKey(c), c);
        }
    }

    /** What picocli makes of a line, in the fast path's terms. */
    private static FastPath.Request picocliRequest(String[] args) {
        CommandLine top = CommandCatalog.only(CommandCatalog.commandWord(args)).commandLine();
        ParseResult parsed = top.parseArgs(args);
        ParseResult sub = parsed.subcommand();
        Map<String, String> common = new LinkedHashMap<>();
        Map<String, String> own = new LinkedHashMap<>();
        for (ParseResult level : List.of(parsed, sub)) {
            for (CommandLine.Model.OptionSpec o : level.matchedOptions()) {
                String name = o.longestName();
                if (name.equals(CommonOptions.JSON) || name.equals(CommonOptions.VERBOSE)) {
                    continue;
                }
                String value = level.matchedOptionValue(name, null);
                (CommonOptions.TAKES_VALUE.contains(name) ? common : own).put(name, value);
            }
        }
        // the fast path keeps the later level's value, as CommonOptions.from does; order does not matter
        boolean json = parsed.hasMatchedOption(CommonOptions.JSON) || sub.hasMatchedOption(CommonOptions.JSON);
        boolean verbose = parsed.hasMatchedOption(CommonOptions.VERBOSE) || sub.hasMatchedOption(CommonOptions.VERBOSE);
        FastPath.Request fast = FastPath.parse(args);
        return new FastPath.Request(sub.commandSpec().name(), sameOrder(common, fast == null ? null : fast.common()),
                json, verbose, sameOrder(own, fast == null ? null : fast.options()));
    }

    private static Map<String, String> sameOrder(Map<String, String> values, Map<String, String> order) {
        if (order == null || !order.keySet().equals(values.keySet())) {
            return values;
        }
        Map<String, String> m = new LinkedHashMap<>();
        order.keySet().forEach(k -> m.put(k, values.get(k)));
        return m;
    }

    private static Map<String, TinyStorage> fresh() {
        return Map.of(MUX, new TinyStorage(MUX), MUX + ".ext", new TinyStorage(MUX));
    }

    /** One run on a fresh in-process daemon, through the fast path when it takes the line or only picocli. */
    private static SmctlRun run(String[] args, boolean picocliOnly) {
        return runOn(fresh(), picocliOnly, args);
    }

    private static SmctlRun runOn(Map<String, TinyStorage> queues, boolean picocliOnly, String... args) {
        SwitchLink.Connector connector = (a, t) -> new InProcessLink(queues);
        return SmctlRun.capture(false, t -> picocliOnly ? PicocliRun.run(args, t, connector)
                : Smctl.run(args, t, connector));
    }
}
