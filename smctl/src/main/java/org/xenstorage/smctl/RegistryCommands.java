package org.xenstorage.smctl;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.xenstorage.idl.rpc.MethodTable;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.idl.wire.WireCodec;
import org.xenstorage.messageswitch.client.SwitchException;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * The daemon's own calls on the mux queue (not SMAPIv2; same JSON-RPC envelope and errors):
 * {@code Registry.register/unregister/list/types} and {@code Mux.diagnostics}, as
 * {@code sr-register}, {@code sr-unregister}, {@code sr-registry}, {@code types} and {@code diagnostics}.
 */
final class RegistryCommands {
    static final String REGISTER = "Registry.register";
    static final String UNREGISTER = "Registry.unregister";
    static final String LIST = "Registry.list";
    static final String TYPES = "Registry.types";
    static final String DIAGNOSTICS = "Mux.diagnostics";

    /** Diagnostics members shown as their own sections, with the heading each gets, in this order. */
    private static final Map<String, String> SECTIONS = sections();

    private RegistryCommands() {
    }

    private static Map<String, String> sections() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("srs", "registered SRs");
        m.put("types", "backend types");
        m.put("backends", "backends");
        m.put("tasks", "tasks");
        m.put("datapaths", "datapaths");
        m.put("running_calls", "driver and script calls running now (age in seconds)");
        return m;
    }

    static void addTo(CommandCatalog catalog) {
        catalog.add(spec("sr-register", "Route an SR's calls to the backend of a type (daemon extension "
                + REGISTER + ")", required("--sr", "<sr>", "the SR"),
                required("--type", "<type>", "backend type, e.g. ext or a SMAPIv3 plugin name"),
                OptionSpec.builder("--backend-domain").paramLabel("<vm-uuid>").type(String.class)
                        .description("the driver domain serving the SR (default: the daemon's)").build()),
                RegistryCommands::register);
        catalog.add(spec("sr-unregister", "Forget an SR's routing (daemon extension " + UNREGISTER + ")",
                required("--sr", "<sr>", "the SR")), RegistryCommands::unregister);
        catalog.add(spec("sr-registry", "Registered SRs with their type and queue (daemon extension " + LIST + ")"),
                RegistryCommands::list);
        catalog.add(spec("types", "Backend types the daemon serves (daemon extension " + TYPES + ")"),
                RegistryCommands::types);
        catalog.add(spec("diagnostics", "Switch queues, registered SRs, tasks, datapaths, backends (daemon extension "
                + DIAGNOSTICS + " plus the switch's queue list)"), RegistryCommands::diagnostics);
    }

    static CommandSpec spec(String name, String description, OptionSpec... options) {
        CommandSpec spec = CommandSpec.create().name(name);
        spec.usageMessage().description(description);
        for (OptionSpec o : options) {
            spec.addOption(o);
        }
        return spec;
    }

    static OptionSpec required(String name, String label, String description) {
        return OptionSpec.builder(name).paramLabel(label).type(String.class).required(true).description(description)
                .build();
    }

    /** Type names become queue names: letters, digits, '.', '_' and '-' only. */
    static void validateName(String option, String value) {
        if (!CommonOptions.isQueueName(value)) {
            throw new UsageError(option + ": expected letters, digits, '.', '_' or '-', got '" + value + "'");
        }
    }

    private static int register(Smctl.Invocation inv) {
        String type = inv.parsed().matchedOptionValue("--type", "");
        validateName("--type", type);
        ObjectNode p = inv.session().params();
        p.put("sr", inv.parsed().<String>matchedOptionValue("--sr", ""));
        p.put("sr_type", type);
        String domain = inv.parsed().matchedOptionValue("--backend-domain", null);
        if (domain != null) {
            p.put("backend_domain", domain);
        }
        Output.print(inv, inv.session().extension(REGISTER, p));
        return ExitStatus.OK;
    }

    private static int unregister(Smctl.Invocation inv) {
        ObjectNode p = inv.session().params();
        p.put("sr", inv.parsed().<String>matchedOptionValue("--sr", ""));
        Output.print(inv, inv.session().extension(UNREGISTER, p));
        return ExitStatus.OK;
    }

    private static int list(Smctl.Invocation inv) {
        JsonNode srs = inv.session().extension(LIST, inv.session().params());
        if (inv.options().json()) {
            Output.print(inv, srs);
        } else {
            inv.terminal().out().println(srTable(srs));
        }
        return ExitStatus.OK;
    }

    /** The registered SRs as a table (sr, type, queue, ...), or their plain rendering when not SR records. */
    static String srTable(JsonNode srs) {
        if (!srs.isObject() || !allObjects(srs)) {
            return HumanFormat.render(srs);
        }
        if (srs.isEmpty()) {
            return "(no SR registered)";
        }
        List<String> keys = new ArrayList<>();
        List<JsonNode> rows = new ArrayList<>();
        srs.fields().forEachRemaining(e -> {
            keys.add(e.getKey());
            rows.add(e.getValue());
        });
        return HumanFormat.jsonTable("sr", keys, rows);
    }

    private static boolean allObjects(JsonNode n) {
        for (JsonNode x : n) {
            if (!x.isObject()) {
                return false;
            }
        }
        return true;
    }

    private static int types(Smctl.Invocation inv) {
        Output.print(inv, inv.session().extension(TYPES, inv.session().params()));
        return ExitStatus.OK;
    }

    private static int diagnostics(Smctl.Invocation inv) {
        Session s = inv.session();
        List<String> all = s.queues(false);
        Set<String> alive = new HashSet<>(s.queues(true));
        ArrayNode queues = Json.NODES.arrayNode();
        for (String q : all) {
            ObjectNode o = queues.addObject();
            o.put("queue", q);
            o.put("alive", alive.contains(q));
        }
        JsonNode mux;
        RuntimeException failure = null;
        try {
            mux = s.extension(DIAGNOSTICS, s.params());
        } catch (CallFailed | SwitchException e) {
            // the queues are worth showing most when the daemon does not answer
            failure = e;
            mux = null;
        }
        if (inv.options().json()) {
            ObjectNode o = Json.NODES.objectNode();
            o.set("switch_queues", queues);
            if (mux != null) {
                o.set("mux", mux);
            }
            inv.terminal().out().println(Json.write(o));
        } else {
            inv.terminal().out().println(diagnosticsText(s.options(), queues, mux));
        }
        if (failure != null) {
            throw failure;
        }
        return ExitStatus.OK;
    }

    /** The diagnostics as readable sections: the switch's queues first, then the mux's report. */
    static String diagnosticsText(CommonOptions options, ArrayNode queues, JsonNode mux) {
        StringBuilder sb = new StringBuilder();
        section(sb, "queues on " + options.address() + " under " + options.queuePrefix(),
                queues.isEmpty() ? "(none)" : HumanFormat.jsonTable(null, null, toList(queues)));
        if (mux == null) {
            return sb.toString().stripTrailing();
        }
        if (!mux.isObject()) {
            section(sb, "mux", HumanFormat.render(mux));
            return sb.toString().stripTrailing();
        }
        ObjectNode scalars = Json.NODES.objectNode();
        for (Iterator<Map.Entry<String, JsonNode>> it = mux.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getValue().isValueNode() && !SECTIONS.containsKey(e.getKey())) {
                scalars.set(e.getKey(), e.getValue());
            }
        }
        if (!scalars.isEmpty()) {
            section(sb, "mux", HumanFormat.render(scalars));
        }
        for (Map.Entry<String, String> e : SECTIONS.entrySet()) {
            JsonNode v = mux.get(e.getKey());
            if (v != null) {
                section(sb, e.getValue(), sectionBody(e.getKey(), v));
            }
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = mux.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isValueNode() && !SECTIONS.containsKey(e.getKey())) {
                section(sb, e.getKey(), HumanFormat.render(e.getValue()));
            }
        }
        return sb.toString().stripTrailing();
    }

    private static String sectionBody(String key, JsonNode v) {
        if (key.equals("srs")) {
            return srTable(v);
        }
        if ((key.equals("datapaths") || key.equals("backends")) && v.isObject() && !v.isEmpty() && allObjects(v)) {
            List<String> keys = new ArrayList<>();
            List<JsonNode> rows = new ArrayList<>();
            v.fields().forEachRemaining(e -> {
                keys.add(e.getKey());
                rows.add(e.getValue());
            });
            return HumanFormat.jsonTable(key.equals("datapaths") ? "dp" : "type", keys, rows);
        }
        if (key.equals("running_calls") && v.isArray() && !v.isEmpty()) {
            return HumanFormat.jsonTable(null, null, toList((ArrayNode) v));
        }
        if (key.equals("tasks") && v.isArray()) {
            // task records read better with their state decoded ("Pending 40%")
            Type listOfTasks = MethodTable.byWireName("TASK.list").orElseThrow().resultType();
            try {
                return HumanFormat.render(WireCodec.decode(v, listOfTasks), listOfTasks);
            } catch (RuntimeException e) {
                return HumanFormat.render(v);
            }
        }
        return HumanFormat.render(v);
    }

    private static void section(StringBuilder sb, String title, String body) {
        sb.append("== ").append(title).append(" ==\n").append(body.isEmpty() ? "(none)" : body).append("\n\n");
    }

    private static List<JsonNode> toList(ArrayNode a) {
        List<JsonNode> l = new ArrayList<>();
        a.forEach(l::add);
        return l;
    }
}
