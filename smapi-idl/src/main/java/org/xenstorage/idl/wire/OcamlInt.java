package org.xenstorage.idl.wire;

import java.math.BigInteger;

/** Parses integers the way OCaml's {@code Int64.of_string} does: sign, 0x/0o/0b prefixes, underscores. */
final class OcamlInt {
    private OcamlInt() {
    }

    static BigInteger parse(String text) {
        String s = text;
        boolean negative = false;
        if (s.startsWith("-") || s.startsWith("+")) {
            negative = s.charAt(0) == '-';
            s = s.substring(1);
        }
        int radix = 10;
        if (s.length() > 2 && s.charAt(0) == '0') {
            switch (Character.toLowerCase(s.charAt(1))) {
                case 'x' -> radix = 16;
                case 'o' -> radix = 8;
                case 'b' -> radix = 2;
                case 'u' -> radix = 10;
                default -> { }
            }
            if (radix != 10 || Character.toLowerCase(s.charAt(1)) == 'u') {
                s = s.substring(2);
            }
        }
        if (s.isEmpty() || s.charAt(0) == '_') {
            throw new WireException("Int64.of_string: not an integer: \"" + text + "\"");
        }
        String digits = s.replace("_", "");
        try {
            BigInteger value = new BigInteger(digits, radix);
            return negative ? value.negate() : value;
        } catch (NumberFormatException e) {
            throw new WireException("Int64.of_string: not an integer: \"" + text + "\"");
        }
    }
}
