package org.xenstorage.smapiv1.xmlrpc;

/**
 * A document that could not be read as the XML-RPC message expected.
 *
 * @see Kind
 */
public final class XmlRpcFormatException extends Exception {
    /** Whether the bytes were not XML at all, or XML of the wrong shape. */
    public enum Kind {
        /** Not well-formed, or refused by the hardened parser (DOCTYPE, entities). */
        NOT_XML,
        /** Well-formed XML that is not the expected XML-RPC message (wrong root, param count, unknown type). */
        UNEXPECTED_SHAPE
    }

    private final Kind kind;

    public XmlRpcFormatException(Kind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
