package org.xenstorage.messageswitch.protocol;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Percent-encoding of one URL path segment. A queue name may contain '/', so every byte outside
 * RFC 3986's unreserved set and a few harmless sub-delimiters is escaped; the switch splits the
 * path on '/' first and decodes each segment, as upstream does.
 */
public final class PathSegments {
    private PathSegments() {
    }

    public static String encode(String segment) {
        byte[] bytes = segment.getBytes(StandardCharsets.UTF_8);
        StringBuilder sb = null;
        for (int i = 0; i < bytes.length; i++) {
            int b = bytes[i] & 0xff;
            if (isSafe(b)) {
                if (sb != null) {
                    sb.append((char) b);
                }
            } else {
                if (sb == null) {
                    sb = new StringBuilder(bytes.length + 16);
                    for (int j = 0; j < i; j++) {
                        sb.append((char) bytes[j]);
                    }
                }
                sb.append('%').append(Character.toUpperCase(Character.forDigit(b >> 4, 16)))
                        .append(Character.toUpperCase(Character.forDigit(b & 0xf, 16)));
            }
        }
        return sb == null ? segment : sb.toString();
    }

    private static boolean isSafe(int b) {
        return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9')
                || b == '-' || b == '.' || b == '_' || b == '~' || b == ':' || b == '@' || b == '!'
                || b == '$' || b == '\'' || b == '(' || b == ')' || b == '*' || b == ',';
    }

    /** Decodes %XX escapes (UTF-8); a malformed escape is a {@link ProtocolException}. */
    public static String decode(String segment) {
        if (segment.indexOf('%') < 0) {
            return segment;
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(segment.length());
        for (int i = 0; i < segment.length(); i++) {
            char c = segment.charAt(i);
            if (c == '%') {
                if (i + 2 >= segment.length()) {
                    throw new ProtocolException("truncated percent escape in " + segment);
                }
                int hi = Character.digit(segment.charAt(i + 1), 16);
                int lo = Character.digit(segment.charAt(i + 2), 16);
                if (hi < 0 || lo < 0) {
                    throw new ProtocolException("bad percent escape in " + segment);
                }
                out.write((hi << 4) | lo);
                i += 2;
            } else {
                int end = segment.indexOf('%', i);
                end = end < 0 ? segment.length() : end;
                byte[] b = segment.substring(i, end).getBytes(StandardCharsets.UTF_8);
                out.write(b, 0, b.length);
                i = end - 1;
            }
        }
        return out.toString(StandardCharsets.UTF_8);
    }
}
