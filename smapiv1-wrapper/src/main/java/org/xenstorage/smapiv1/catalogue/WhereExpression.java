package org.xenstorage.smapiv1.catalogue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The subset of xapi's {@code get_all_records_where} language SM drivers use:
 * {@code field "name" = "value"} terms joined by {@code and}, or {@code true}.
 */
public record WhereExpression(List<Term> terms) {
    /** One {@code field "name" = "value"} (or {@code <>}) term. */
    public record Term(String field, String value, boolean equal) {
    }

    /** @throws IllegalArgumentException on anything else */
    public static WhereExpression parse(String text) {
        List<Term> terms = new ArrayList<>();
        String s = text.trim();
        if (s.equals("true") || s.isEmpty()) {
            return new WhereExpression(terms);
        }
        int i = 0;
        while (true) {
            i = skip(s, i);
            i = expectWord(s, i, "field");
            i = skip(s, i);
            int[] end = new int[1];
            String field = quoted(s, i, end);
            i = skip(s, end[0]);
            boolean equal;
            if (s.startsWith("<>", i)) {
                equal = false;
                i += 2;
            } else if (s.startsWith("=", i)) {
                equal = true;
                i += 1;
            } else {
                throw new IllegalArgumentException("expected = or <> at " + i + " in " + text);
            }
            i = skip(s, i);
            String value = quoted(s, i, end);
            terms.add(new Term(field, value, equal));
            i = skip(s, end[0]);
            if (i >= s.length()) {
                return new WhereExpression(terms);
            }
            i = expectWord(s, i, "and");
        }
    }

    /** Whether the record satisfies every term (values compared as their string forms). */
    public boolean matches(Map<String, Object> record) {
        for (Term t : terms) {
            Object v = record.get(t.field());
            String text = v instanceof Boolean b ? b.toString() : String.valueOf(v);
            if (text.equals(t.value()) != t.equal()) {
                return false;
            }
        }
        return true;
    }

    private static int skip(String s, int i) {
        while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
            i++;
        }
        return i;
    }

    private static int expectWord(String s, int i, String word) {
        if (!s.startsWith(word, i)) {
            throw new IllegalArgumentException("expected " + word + " at " + i + " in " + s);
        }
        return i + word.length();
    }

    private static String quoted(String s, int i, int[] end) {
        if (i >= s.length() || s.charAt(i) != '"') {
            throw new IllegalArgumentException("expected a quoted string at " + i + " in " + s);
        }
        StringBuilder sb = new StringBuilder();
        for (int j = i + 1; j < s.length(); j++) {
            char c = s.charAt(j);
            if (c == '\\' && j + 1 < s.length()) {
                sb.append(s.charAt(++j));
            } else if (c == '"') {
                end[0] = j + 1;
                return sb.toString();
            } else {
                sb.append(c);
            }
        }
        throw new IllegalArgumentException("unterminated string in " + s);
    }
}
