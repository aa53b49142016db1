package org.xenstorage.smctl;

import java.math.BigDecimal;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Byte counts and rates as operators type and read them (binary units: 1 GiB = 2^30 bytes). */
final class Units {
    private static final String[] UNITS = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    private static final Pattern INTEGER = Pattern.compile("(-?\\d+)\\s*(?:([kKmMgGtTpP])(?:i?[bB])?)?");

    private Units() {
    }

    /** {@code 1536} → {@code 1.5 KiB}; below 1 KiB the exact count. */
    static String bytes(long n) {
        if (n < 1024 && n > -1024) {
            return n + " B";
        }
        double v = n;
        int u = 0;
        while (Math.abs(v) >= 1024 && u < UNITS.length - 1) {
            v /= 1024;
            u++;
        }
        return trim(String.format(Locale.ROOT, "%.1f", v)) + " " + UNITS[u];
    }

    /** A rate such as {@code 512 MiB/s}. */
    static String rate(double bytesPerSecond) {
        if (!Double.isFinite(bytesPerSecond) || bytesPerSecond < 0) {
            return "? B/s";
        }
        return bytes(Math.round(bytesPerSecond)) + "/s";
    }

    /** Seconds with at most one decimal: {@code 12.5 s}. */
    static String seconds(double s) {
        return trim(String.format(Locale.ROOT, "%.1f", s)) + " s";
    }

    /** A float as OCaml-ish short text: {@code 0.5}, {@code 12}, no exponent for ordinary values. */
    static String number(double d) {
        if (!Double.isFinite(d)) {
            return Double.toString(d);
        }
        return new BigDecimal(Double.toString(d)).stripTrailingZeros().toPlainString();
    }

    /**
     * An integer typed by an operator: plain digits, or with a binary unit suffix ({@code 10G}, {@code 512MiB},
     * {@code 4k}). @throws UsageError when it is neither or overflows
     */
    static long parseInteger(String option, String text) {
        Matcher m = INTEGER.matcher(text.trim());
        if (!m.matches()) {
            throw new UsageError(option + ": expected an integer (optionally with a K/M/G/T/P suffix), got '" + text + "'");
        }
        try {
            long base = Long.parseLong(m.group(1));
            if (m.group(2) == null) {
                return base;
            }
            int power = "KMGTP".indexOf(Character.toUpperCase(m.group(2).charAt(0))) + 1;
            long factor = 1L << (10 * power);
            return Math.multiplyExact(base, factor);
        } catch (NumberFormatException | ArithmeticException e) {
            throw new UsageError(option + ": '" + text + "' does not fit in a 64-bit integer");
        }
    }

    private static String trim(String s) {
        return s.endsWith(".0") ? s.substring(0, s.length() - 2) : s;
    }
}
