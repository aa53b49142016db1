package org.xenstorage.smctl;

import com.fasterxml.jackson.databind.JsonNode;
import java.lang.reflect.Type;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.idl.wire.WireCodec;
import org.xenstorage.idl.wire.WireException;

/** Prints a result: its wire JSON with {@code --json}, else the human form of its IDL type. */
final class Output {
    private Output() {
    }

    static void print(Smctl.Invocation inv, JsonNode result, Type type) {
        if (inv.options().json()) {
            inv.terminal().out().println(Json.write(result));
            return;
        }
        String text;
        try {
            Object value = WireCodec.decode(result, type);
            text = HumanFormat.render(value, type);
        } catch (WireException | IllegalArgumentException | NullPointerException e) {
            // a daemon newer or looser than this IDL: still show what it said
            text = HumanFormat.render(result);
        }
        if (!text.isEmpty()) {
            inv.terminal().out().println(text);
        }
    }

    /** Prints an untyped result (extension calls). */
    static void print(Smctl.Invocation inv, JsonNode result) {
        print(inv.options().json(), inv.terminal(), result);
    }

    /** Prints an untyped result: its wire JSON when {@code json}, else its human form. */
    static void print(boolean json, Terminal terminal, JsonNode result) {
        if (json) {
            terminal.out().println(Json.write(result));
            return;
        }
        String text = HumanFormat.render(result);
        if (!text.isEmpty()) {
            terminal.out().println(text);
        }
    }
}
