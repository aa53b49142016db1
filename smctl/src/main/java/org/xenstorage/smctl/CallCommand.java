package org.xenstorage.smctl;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.xenstorage.idl.rpc.MethodDescriptor;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParseResult;

/**
 * A SMAPIv2 method as an smctl sub-command, generated from the IDL's method table: {@code VDI.attach3}
 * becomes {@code vdi-attach3 --dp .. --sr .. --vdi .. --vm .. --read-write}. The {@code dbg} parameter
 * is not an option: every call takes it from the common {@code --dbg}.
 *
 * @param method  the IDL method
 * @param name    the command name
 * @param options one option per parameter but {@code dbg}, in declaration order
 */
record CallCommand(MethodDescriptor method, String name, List<ParamOption> options) {

    /** The parameter every call carries for logs; filled from {@code --dbg}. */
    static final String DBG = "dbg";

    /** {@code DATA.MIRROR.send_start} → {@code data-mirror-send-start}; {@code get_by_name} → {@code get-by-name}. */
    static String commandName(String wireName) {
        return wireName.toLowerCase(Locale.ROOT).replace('.', '-').replace('_', '-');
    }

    static CallCommand of(MethodDescriptor m, Set<String> reservedOptions) {
        List<ParamOption> options = new ArrayList<>();
        for (MethodDescriptor.ParamSpec p : m.params()) {
            if (!isDbg(p)) {
                options.add(ParamOption.of(p, reservedOptions));
            }
        }
        return new CallCommand(m, commandName(m.wireName()), options);
    }

    private static boolean isDbg(MethodDescriptor.ParamSpec p) {
        return p.name().equals(DBG) && p.type() == String.class && !p.optional();
    }

    /** The picocli command (without the common options, which the caller adds). */
    CommandSpec spec() {
        CommandSpec spec = CommandSpec.create().name(name);
        List<String> description = new ArrayList<>();
        description.add("SMAPIv2 " + method.wireName() + " -> " + ParamOption.typeName(method.resultType())
                + (method.deprecated() ? " (deprecated upstream)" : ""));
        spec.usageMessage().description(description.toArray(String[]::new));
        options.forEach(o -> spec.addOption(o.spec()));
        return spec;
    }

    /** The Java arguments of the call, in declaration order, from a parse of this command. */
    Object[] arguments(ParseResult parsed, String dbg) {
        return arguments(parsed, dbg, Map.of());
    }

    /**
     * As {@link #arguments(ParseResult, String)}, with {@code defaults} (option text by wire name) standing in
     * for options the command line left out.
     */
    Object[] arguments(ParseResult parsed, String dbg, Map<String, Object> defaults) {
        List<MethodDescriptor.ParamSpec> params = method.params();
        Object[] args = new Object[params.size()];
        int next = 0;
        for (int i = 0; i < params.size(); i++) {
            if (isDbg(params.get(i))) {
                args[i] = dbg;
            } else {
                ParamOption o = options.get(next++);
                args[i] = o.toArgument(parsed.hasMatchedOption(o.longName()) ? parsed.matchedOptionValue(o.longName(), null)
                        : defaults.get(o.param().name()));
            }
        }
        return args;
    }

    /** The argument of the parameter with that wire name. */
    Object argument(Object[] args, String wireName) {
        for (int i = 0; i < method.params().size(); i++) {
            if (method.params().get(i).name().equals(wireName)) {
                return args[i];
            }
        }
        throw new IllegalArgumentException(method.wireName() + " has no parameter " + wireName);
    }
}
