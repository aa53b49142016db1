package org.xenstorage.smapiv1.xmlrpc;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Objects;

/**
 * An XML-RPC {@code dateTime.iso8601} value kept as its text (xapi's form is {@code YYYYMMDDTHH:MM:SSZ}).
 * Kept verbatim so a date a driver sends comes back to it byte for byte.
 */
public record XmlRpcDateTime(String text) {
    private static final DateTimeFormatter XAPI = DateTimeFormatter.ofPattern("yyyyMMdd'T'HH:mm:ss'Z'")
            .withZone(ZoneOffset.UTC);

    /** xapi's epoch, the "no date" value. */
    public static final XmlRpcDateTime EPOCH = new XmlRpcDateTime("19700101T00:00:00Z");

    public XmlRpcDateTime {
        Objects.requireNonNull(text, "text");
    }

    /** The current time in xapi's format. */
    public static XmlRpcDateTime now() {
        return new XmlRpcDateTime(XAPI.format(Instant.now()));
    }

    /** xapi's form of the date: a trailing {@code Z} is added when the sender left it out. */
    public String xapiText() {
        return text.endsWith("Z") || text.isEmpty() ? text : text + "Z";
    }

    @Override
    public String toString() {
        return text;
    }
}
