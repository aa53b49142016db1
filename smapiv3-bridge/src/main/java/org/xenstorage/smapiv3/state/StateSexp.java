package org.xenstorage.smapiv3.state;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The attached-SR table in upstream's {@code state.db} format, an S-expression:
 * {@code ((<sr-uuid>((sr <handle>)(uids(<uid> ...))))...)}, entries sorted by key, written in
 * Sexplib's compact "machine" layout (a space only between two bare atoms). We write this format
 * too, so a host can move between xapi-storage-script and this bridge in either direction.
 */
public final class StateSexp {
    private StateSexp() {
    }

    /** Thrown for text that is not a well-formed table. */
    public static final class MalformedState extends Exception {
        MalformedState(String message) {
            super(message);
        }
    }

    // ---------------------------------------------------------------- writing

    public static String write(Map<String, AttachedSr> table) {
        List<Object> entries = new ArrayList<>();
        new TreeMap<>(table).forEach((uuid, a) -> {
            List<Object> uids = new ArrayList<>(a.uids());
            entries.add(List.of(uuid, List.of(List.of("sr", a.sr()), List.of("uids", uids))));
        });
        StringBuilder out = new StringBuilder();
        writeSexp(entries, out, new boolean[1]);
        return out.toString();
    }

    /** {@code lastWasBareAtom[0]} tracks whether a separating space is needed before the next bare atom. */
    private static void writeSexp(Object sexp, StringBuilder out, boolean[] lastWasBareAtom) {
        if (sexp instanceof String atom) {
            if (needsQuotes(atom)) {
                out.append(quote(atom));
                lastWasBareAtom[0] = false;
            } else {
                if (lastWasBareAtom[0]) {
                    out.append(' ');
                }
                out.append(atom);
                lastWasBareAtom[0] = true;
            }
            return;
        }
        out.append('(');
        lastWasBareAtom[0] = false;
        for (Object child : (List<?>) sexp) {
            writeSexp(child, out, lastWasBareAtom);
        }
        out.append(')');
        lastWasBareAtom[0] = false;
    }

    static boolean needsQuotes(String atom) {
        if (atom.isEmpty() || atom.contains("#|") || atom.contains("|#")) {
            return true;
        }
        for (byte b : atom.getBytes(StandardCharsets.UTF_8)) {
            int c = b & 0xff;
            if (c <= ' ' || c >= 127 || c == '(' || c == ')' || c == '"' || c == ';' || c == '\\') {
                return true;
            }
        }
        return false;
    }

    private static String quote(String atom) {
        StringBuilder q = new StringBuilder("\"");
        for (byte b : atom.getBytes(StandardCharsets.UTF_8)) {
            int c = b & 0xff;
            switch (c) {
                case '"' -> q.append("\\\"");
                case '\\' -> q.append("\\\\");
                case '\n' -> q.append("\\n");
                case '\t' -> q.append("\\t");
                case '\r' -> q.append("\\r");
                case '\b' -> q.append("\\b");
                default -> {
                    if (c < ' ' || c >= 127) {
                        q.append('\\').append(String.format("%03d", c));
                    } else {
                        q.append((char) c);
                    }
                }
            }
        }
        return q.append('"').toString();
    }

    // ---------------------------------------------------------------- reading

    public static Map<String, AttachedSr> read(String text) throws MalformedState {
        Parser p = new Parser(text.getBytes(StandardCharsets.UTF_8));
        Object top = p.parse();
        p.skipBlanks();
        if (!p.atEnd()) {
            throw new MalformedState("trailing text after the table at byte " + p.pos);
        }
        Map<String, AttachedSr> table = new LinkedHashMap<>();
        for (Object entry : list(top, "table")) {
            List<?> pair = list(entry, "entry");
            if (pair.size() != 2) {
                throw new MalformedState("an entry must be (<sr-uuid> <value>)");
            }
            String uuid = atom(pair.get(0), "sr uuid");
            String sr = null;
            List<String> uids = List.of();
            for (Object field : list(pair.get(1), "value of " + uuid)) {
                List<?> f = list(field, "field");
                String name = f.isEmpty() ? "" : atom(f.get(0), "field name");
                if (name.equals("sr") && f.size() == 2) {
                    sr = atom(f.get(1), "sr");
                } else if (name.equals("uids") && f.size() == 2) {
                    List<String> u = new ArrayList<>();
                    for (Object x : list(f.get(1), "uids")) {
                        u.add(atom(x, "uid"));
                    }
                    uids = u;
                } else {
                    throw new MalformedState("unexpected field in the entry of " + uuid);
                }
            }
            if (sr == null) {
                throw new MalformedState("no sr in the entry of " + uuid);
            }
            if (table.putIfAbsent(uuid, new AttachedSr(sr, uids)) != null) {
                throw new MalformedState("duplicate key " + uuid);
            }
        }
        return table;
    }

    private static List<?> list(Object sexp, String what) throws MalformedState {
        if (sexp instanceof List<?> l) {
            return l;
        }
        throw new MalformedState("expected a list for " + what + ", got an atom");
    }

    private static String atom(Object sexp, String what) throws MalformedState {
        if (sexp instanceof String s) {
            return s;
        }
        throw new MalformedState("expected an atom for " + what + ", got a list");
    }

    private static final class Parser {
        private final byte[] in;
        private int pos;

        Parser(byte[] in) {
            this.in = in;
        }

        boolean atEnd() {
            return pos >= in.length;
        }

        void skipBlanks() {
            while (pos < in.length) {
                int c = in[pos] & 0xff;
                if (c == ';') {
                    while (pos < in.length && in[pos] != '\n') {
                        pos++;
                    }
                } else if (c <= ' ') {
                    pos++;
                } else {
                    return;
                }
            }
        }

        Object parse() throws MalformedState {
            skipBlanks();
            if (atEnd()) {
                throw new MalformedState("unexpected end of the state file");
            }
            int c = in[pos] & 0xff;
            if (c == '(') {
                pos++;
                List<Object> items = new ArrayList<>();
                while (true) {
                    skipBlanks();
                    if (atEnd()) {
                        throw new MalformedState("unclosed parenthesis");
                    }
                    if (in[pos] == ')') {
                        pos++;
                        return items;
                    }
                    items.add(parse());
                }
            }
            if (c == ')') {
                throw new MalformedState("unexpected ')' at byte " + pos);
            }
            return c == '"' ? quoted() : bare();
        }

        private String bare() {
            int start = pos;
            while (pos < in.length) {
                int c = in[pos] & 0xff;
                if (c <= ' ' || c == '(' || c == ')' || c == '"' || c == ';') {
                    break;
                }
                pos++;
            }
            return new String(in, start, pos - start, StandardCharsets.UTF_8);
        }

        private String quoted() throws MalformedState {
            pos++;
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            while (true) {
                if (atEnd()) {
                    throw new MalformedState("unterminated string");
                }
                int c = in[pos++] & 0xff;
                if (c == '"') {
                    return out.toString(StandardCharsets.UTF_8);
                }
                if (c != '\\') {
                    out.write(c);
                    continue;
                }
                if (atEnd()) {
                    throw new MalformedState("unterminated escape");
                }
                int e = in[pos++] & 0xff;
                switch (e) {
                    case 'n' -> out.write('\n');
                    case 't' -> out.write('\t');
                    case 'r' -> out.write('\r');
                    case 'b' -> out.write('\b');
                    case '\\', '"', '\'', ' ' -> out.write(e);
                    case '\n' -> {
                        // line continuation: skip the newline and the next line's leading blanks
                        while (pos < in.length && (in[pos] == ' ' || in[pos] == '\t')) {
                            pos++;
                        }
                    }
                    case 'x' -> out.write(digits(16, 2));
                    default -> {
                        if (e >= '0' && e <= '9') {
                            pos--;
                            out.write(digits(10, 3));
                        } else {
                            out.write('\\');
                            out.write(e);
                        }
                    }
                }
            }
        }

        private int digits(int radix, int count) throws MalformedState {
            if (pos + count > in.length) {
                throw new MalformedState("truncated escape");
            }
            String s = new String(in, pos, count, StandardCharsets.US_ASCII);
            pos += count;
            try {
                int v = Integer.parseInt(s, radix);
                if (v > 255) {
                    throw new MalformedState("escape out of range: " + s);
                }
                return v;
            } catch (NumberFormatException ex) {
                throw new MalformedState("bad escape digits: " + s);
            }
        }
    }
}
