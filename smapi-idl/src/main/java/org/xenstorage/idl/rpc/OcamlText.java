package org.xenstorage.idl.rpc;

import java.nio.charset.StandardCharsets;

/** Renders exception texts the way OCaml's {@code Printexc.to_string} does, so error strings read as upstream's. */
final class OcamlText {
    private OcamlText() {
    }

    /** {@code Module.Exn("argument")} with OCaml string escaping. */
    static String exn(String name, String argument) {
        return name + "(\"" + escape(argument) + "\")";
    }

    static String escape(String s) {
        StringBuilder b = new StringBuilder(s.length() + 8);
        for (byte raw : s.getBytes(StandardCharsets.UTF_8)) {
            int c = raw & 0xff;
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\t' -> b.append("\\t");
                case '\r' -> b.append("\\r");
                case '\b' -> b.append("\\b");
                default -> {
                    if (c < 0x20 || c >= 0x7f) {
                        b.append(String.format("\\%03d", c));
                    } else {
                        b.append((char) c);
                    }
                }
            }
        }
        return b.toString();
    }
}
