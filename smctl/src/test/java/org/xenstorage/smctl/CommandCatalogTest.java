package org.xenstorage.smctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.xenstorage.idl.rpc.MethodDescriptor;
import org.xenstorage.idl.rpc.MethodTable;

/** The generated command set: one command per IDL method, named and typed from the IDL; help shows them. */
class CommandCatalogTest {
    private static final CommandCatalog ALL = new CommandCatalog();

    private static ParamOption option(String command, String longName) {
        return ALL.calls().get(command).options().stream().filter(o -> o.longName().equals(longName)).findFirst()
                .orElseThrow(() -> new AssertionError(command + " has no " + longName));
    }

    @Test
    void everySmapiv2MethodIsACommand() {
        Set<String> commands = ALL.commandLine().getSubcommands().keySet();
        for (MethodDescriptor m : MethodTable.all()) {
            String name = CallCommand.commandName(m.wireName());
            assertTrue(commands.contains(name), m.wireName() + " has no command " + name);
            // one option per parameter but dbg
            long params = m.params().stream().filter(p -> !p.name().equals("dbg")).count();
            assertEquals(params, ALL.calls().get(name).options().size(), name);
        }
        assertEquals(MethodTable.all().size(), ALL.calls().size());
        assertTrue(commands.containsAll(Set.of("sr-register", "sr-unregister", "sr-registry", "types", "diagnostics",
                "vdi-copy", "vdi-mirror", "vdi-mirror-finalize", "task-wait", "help")));
    }

    @Test
    void namesAreModuleAndMethodInKebabCase() {
        assertEquals("sr-create", CallCommand.commandName("SR.create"));
        assertEquals("vdi-attach2", CallCommand.commandName("VDI.attach2"));
        assertEquals("vdi-activate3", CallCommand.commandName("VDI.activate3"));
        assertEquals("data-mirror-send-start", CallCommand.commandName("DATA.MIRROR.send_start"));
        assertEquals("get-by-name", CallCommand.commandName("get_by_name"));
        assertEquals("dp-stat-vdi", CallCommand.commandName("DP.stat_vdi"));
        assertTrue(ALL.calls().containsKey("query-query"));
        assertTrue(ALL.calls().get("dp-diagnostics").options().isEmpty(), "unit-only call takes no option");
    }

    @Test
    void optionsAreTypedFromTheIdl() {
        assertEquals(ParamOption.Kind.TEXT, option("sr-create", "--name-label").kind());
        assertEquals(ParamOption.Kind.STRING_MAP, option("sr-create", "--device-config").kind());
        assertEquals(ParamOption.Kind.INTEGER, option("sr-create", "--physical-size").kind());
        assertEquals(ParamOption.Kind.FLAG, option("vdi-attach3", "--read-write").kind());
        assertEquals(ParamOption.Kind.RECORD, option("vdi-create", "--vdi-info").kind());
        assertEquals(ParamOption.Kind.RECORD, option("sr-update-snapshot-info-dest", "--src-vdi").kind());
        assertEquals(ParamOption.Kind.JSON, option("data-mirror-send-start", "--recv-result").kind());
        assertEquals(ParamOption.Kind.STRING_LIST, option("data-mirror-receive-start", "--similar").kind());
        assertEquals(ParamOption.Kind.JSON, option("sr-update-snapshot-info-dest", "--snapshot-pairs").kind());
        assertEquals(ParamOption.Kind.JSON, option("data-stat", "--operation").kind());
        // the upstream typo of the wire name is kept, so the option matches the wire
        assertEquals("vdi_tp", option("vdi-list-changed-blocks", "--vdi-tp").param().name());
    }

    @Test
    void aParameterNamedLikeACommonOptionIsPrefixed() {
        ParamOption timeout = option("updates-get", "--param-timeout");
        assertTrue(timeout.param().optional());
        assertTrue(ALL.commandLine().getSubcommands().get("updates-get").getCommandSpec().findOption("--timeout")
                .description()[0].startsWith("reply timeout"), "the common --timeout stays the common one");
    }

    @Test
    void requiredOnlyWhenTheOperatorMustSayIt() {
        assertFalse(option("sr-create", "--name-label").omittable());
        assertTrue(option("sr-create", "--name-description").omittable());
        assertTrue(option("sr-create", "--device-config").omittable());
        assertTrue(option("vdi-attach3", "--read-write").omittable());
        assertFalse(option("vdi-create", "--vdi-info").omittable());
    }

    @Test
    void helpShowsACommandsOptionsAndItsWireNames() {
        SmctlRun r = SmctlRun.run(null, false, "help", "vdi-attach3");
        assertEquals(0, r.status(), r.toString());
        assertTrue(r.out().contains("SMAPIv2 VDI.attach3 -> backend"), r.out());
        assertTrue(r.out().contains("--read-write[=<true|false>]"), r.out());
        assertTrue(r.out().contains("wire 'read_write': flag (alone means true) (default false)"), r.out());
        assertTrue(r.out().contains("--vm=<vm>"), r.out());
        assertTrue(r.out().contains("--switch-path=<socket>"), r.out());

        SmctlRun list = SmctlRun.run(null, false, "help");
        assertEquals(0, list.status());
        assertTrue(list.out().contains("vdi-activate3"), list.out());
        assertTrue(list.out().contains("Exit status: 0 ok, 1 storage error, 2 usage, 3 switch unreachable/timeout"));

        SmctlRun same = SmctlRun.run(null, false, "vdi-attach3", "--help");
        assertEquals(r.out(), same.out());

        SmctlRun unknown = SmctlRun.run(null, false, "help", "no-such-command");
        assertEquals(ExitStatus.USAGE, unknown.status());
    }

    @Test
    void theCommandWordIsFoundPastCommonOptionsAndTheirValues() {
        assertEquals("sr-list", CommandCatalog.commandWord(new String[] {"--switch-path", "/s", "--json", "sr-list"}));
        assertEquals("sr-list", CommandCatalog.commandWord(new String[] {"--timeout=3", "sr-list", "--dbg", "x"}));
        assertNull(CommandCatalog.commandWord(new String[] {"--dbg", "x"}));
        // a run builds just its own command
        Map<String, ?> one = new CommandCatalog("sr-list"::equals).commandLine().getSubcommands();
        assertEquals(Set.of("sr-list", "help"), one.keySet().stream().collect(Collectors.toSet()));
        // smctl's own commands and IDL ones alike, and nothing for a name that is neither
        assertEquals(Set.of("sr-list", "help"), CommandCatalog.only("sr-list").commandLine().getSubcommands().keySet());
        assertEquals(Set.of("types", "help"), CommandCatalog.only("types").commandLine().getSubcommands().keySet());
        assertEquals(Set.of("help"), CommandCatalog.only("no-such").commandLine().getSubcommands().keySet());
        assertEquals(Set.of("help"), CommandCatalog.none().commandLine().getSubcommands().keySet());
    }

    @Test
    void completionScriptKnowsEveryCommand() {
        SmctlRun r = SmctlRun.run(null, false, "completion");
        assertEquals(0, r.status(), r.toString());
        assertTrue(r.out().contains("_complete_smctl()"), "defines the completion function");
        for (String c : List.of("vdi-attach3", "data-mirror-receive-start3", "sr-registry", "diagnostics")) {
            assertTrue(r.out().contains(c), c);
        }
    }
}
