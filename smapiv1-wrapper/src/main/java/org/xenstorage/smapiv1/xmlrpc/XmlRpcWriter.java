package org.xenstorage.smapiv1.xmlrpc;

import java.util.Collection;
import java.util.Map;

/**
 * Writes XML-RPC documents the way xapi's serializer does: no declaration, no whitespace, strings as
 * bare {@code <value>text</value>} ({@code <value/>} when empty), {@code <struct/>} and
 * {@code <data/>} when empty. Every non-ASCII character is written as a numeric character reference
 * so the document is pure ASCII (it travels as an argv string, whose encoding Java would otherwise
 * take from the JVM's locale). Control characters other than TAB, LF and CR are dropped, as xapi does.
 *
 * <p>Values: {@link String}, {@link Boolean}, {@link Integer} ({@code <int>}), {@link Long} (written
 * as a string: XenAPI's int64 convention), {@link Double}, {@link XmlRpcDateTime}, {@link Map}
 * (struct, keys as strings), {@link Collection} (array), {@code null} ({@code <nil/>}).
 */
public final class XmlRpcWriter {
    private XmlRpcWriter() {
    }

    /** {@code <methodCall>} with the given params. */
    public static String methodCall(String method, Collection<?> params) {
        StringBuilder sb = new StringBuilder(512);
        sb.append("<methodCall><methodName>");
        escape(sb, method);
        sb.append("</methodName><params>");
        for (Object p : params) {
            sb.append("<param>");
            value(sb, p);
            sb.append("</param>");
        }
        return sb.append("</params></methodCall>").toString();
    }

    /** A successful {@code <methodResponse>} carrying one value. */
    public static String methodResponse(Object result) {
        StringBuilder sb = new StringBuilder(256);
        sb.append("<?xml version=\"1.0\"?><methodResponse><params><param>");
        value(sb, result);
        return sb.append("</param></params></methodResponse>").toString();
    }

    /** A fault {@code <methodResponse>}. */
    public static String fault(int code, String message) {
        StringBuilder sb = new StringBuilder(256);
        sb.append("<?xml version=\"1.0\"?><methodResponse><fault><value><struct>")
                .append("<member><name>faultCode</name><value><int>").append(code).append("</int></value></member>")
                .append("<member><name>faultString</name>");
        value(sb, message);
        return sb.append("</member></struct></value></fault></methodResponse>").toString();
    }

    /** Appends one {@code <value>} element. */
    public static void value(StringBuilder sb, Object v) {
        if (v == null) {
            sb.append("<value><nil/></value>");
        } else if (v instanceof String s) {
            if (s.isEmpty()) {
                sb.append("<value/>");
            } else {
                sb.append("<value>");
                escape(sb, s);
                sb.append("</value>");
            }
        } else if (v instanceof Boolean b) {
            sb.append("<value><boolean>").append(b ? '1' : '0').append("</boolean></value>");
        } else if (v instanceof Integer i) {
            sb.append("<value><int>").append(i).append("</int></value>");
        } else if (v instanceof Long l) {
            sb.append("<value>").append(l).append("</value>");
        } else if (v instanceof Double d) {
            sb.append("<value><double>").append(d).append("</double></value>");
        } else if (v instanceof XmlRpcDateTime d) {
            sb.append("<value><dateTime.iso8601>");
            escape(sb, d.text());
            sb.append("</dateTime.iso8601></value>");
        } else if (v instanceof Map<?, ?> m) {
            if (m.isEmpty()) {
                sb.append("<value><struct/></value>");
                return;
            }
            sb.append("<value><struct>");
            for (Map.Entry<?, ?> e : m.entrySet()) {
                sb.append("<member><name>");
                escape(sb, String.valueOf(e.getKey()));
                sb.append("</name>");
                value(sb, e.getValue());
                sb.append("</member>");
            }
            sb.append("</struct></value>");
        } else if (v instanceof Collection<?> c) {
            if (c.isEmpty()) {
                sb.append("<value><array><data/></array></value>");
                return;
            }
            sb.append("<value><array><data>");
            for (Object o : c) {
                value(sb, o);
            }
            sb.append("</data></array></value>");
        } else if (v instanceof Object[] a) {
            value(sb, java.util.Arrays.asList(a));
        } else {
            throw new IllegalArgumentException("no XML-RPC form for " + v.getClass().getName());
        }
    }

    /** Escapes markup characters, drops disallowed control characters, writes non-ASCII as references. */
    static void escape(StringBuilder sb, String s) {
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            i += Character.charCount(cp);
            switch (cp) {
                case '&' -> sb.append("&amp;");
                case '<' -> sb.append("&lt;");
                case '>' -> sb.append("&gt;");
                case '"' -> sb.append("&quot;");
                case '\t', '\n' -> sb.append((char) cp);
                case '\r' -> sb.append("&#13;");
                default -> {
                    if (cp < 0x20 || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF) {
                        // not representable in XML 1.0: dropped, as xapi does for control characters
                    } else if (cp < 0x7F) {
                        sb.append((char) cp);
                    } else {
                        sb.append("&#x").append(Integer.toHexString(cp).toUpperCase()).append(';');
                    }
                }
            }
        }
    }
}
