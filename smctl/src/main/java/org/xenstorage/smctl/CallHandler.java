package org.xenstorage.smctl;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;

/**
 * Runs a generated SMAPIv2 command: arguments from the options, one call to the mux, the result printed.
 * Three conveniences ride on it: {@code sr-create --type T} registers the SR with the daemon first (and
 * unregisters it again if the create fails), {@code sr-probe --type T} sends the probe to the backend queue
 * {@code <prefix>.T} instead of the mux, and {@code data-copy --wait} follows the task it starts.
 */
final class CallHandler implements Smctl.Handler {
    static final String TYPE_OPTION = "--type";
    static final String WAIT_OPTION = "--wait";

    private final CallCommand command;

    CallHandler(CallCommand command) {
        this.command = command;
    }

    @Override
    public int run(Smctl.Invocation inv) {
        String wire = command.method().wireName();
        if (wire.equals("SR.probe") && inv.parsed().hasMatchedOption(TYPE_OPTION)) {
            return probe(inv, inv.parsed().matchedOptionValue(TYPE_OPTION, ""));
        }
        // every option is converted before anything is sent, so a typo never half-runs a command
        Object[] args = command.arguments(inv.parsed(), inv.options().dbg());
        String type = wire.equals("SR.create") ? inv.parsed().matchedOptionValue(TYPE_OPTION, null) : null;
        if (type != null) {
            return createAndRegister(inv, args, type);
        }
        long start = System.nanoTime();
        JsonNode result = inv.session().call(command.method(), args);
        if (wire.equals("DATA.copy") && inv.parsed().hasMatchedOption(WAIT_OPTION)) {
            String task = result.asText();
            long size = TaskCommands.sizeOf(inv, (String) command.argument(args, "sr"),
                    (String) command.argument(args, "vdi"));
            return TaskCommands.followAndReport(inv, task, size, start);
        }
        Output.print(inv, result, command.method().resultType());
        return ExitStatus.OK;
    }

    /**
     * {@code sr-probe --type T}: as xapi's {@code call_probe}, the probe goes to {@code <prefix>.<t>} (t = T
     * lower-cased) with that queue name as its {@code queue} argument unless {@code --queue} says otherwise; a
     * queue nobody serves is xapi's {@code SR_UNKNOWN_DRIVER [t]}.
     */
    private int probe(Smctl.Invocation inv, String rawType) {
        RegistryCommands.validateName(TYPE_OPTION, rawType);
        String type = rawType.toLowerCase(Locale.ROOT);
        String queue = inv.options().queuePrefix() + "." + type;
        Object[] args = command.arguments(inv.parsed(), inv.options().dbg(), Map.of("queue", queue));
        if (!inv.session().queues(true).contains(queue)) {
            throw new StorageException(new StorageError.BackendError("SR_UNKNOWN_DRIVER", List.of(type)));
        }
        Output.print(inv, inv.session().callQueue(queue, command.method(), args), command.method().resultType());
        return ExitStatus.OK;
    }

    private int createAndRegister(Smctl.Invocation inv, Object[] args, String type) {
        String sr = (String) command.argument(args, "sr");
        RegistryCommands.validateName("--type", type);
        ObjectNode register = inv.session().params();
        register.put("sr", sr);
        register.put("sr_type", type);
        inv.session().extension(RegistryCommands.REGISTER, register);
        JsonNode result;
        try {
            result = inv.session().call(command.method(), args);
        } catch (RuntimeException e) {
            try {
                ObjectNode unregister = inv.session().params();
                unregister.put("sr", sr);
                inv.session().extension(RegistryCommands.UNREGISTER, unregister);
            } catch (RuntimeException undo) {
                inv.terminal().err().println("warning: SR " + sr + " stays registered as " + type
                        + " after the failed create: " + undo.getMessage());
            }
            throw e;
        }
        Output.print(inv, result, command.method().resultType());
        return ExitStatus.OK;
    }
}
