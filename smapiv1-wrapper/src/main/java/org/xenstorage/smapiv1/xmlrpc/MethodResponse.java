package org.xenstorage.smapiv1.xmlrpc;

import java.util.Objects;

/** A decoded XML-RPC {@code methodResponse}: one value, or a fault. */
public sealed interface MethodResponse {
    /** {@code params/param/value}: the single result value (null for {@code <nil/>}). */
    record Success(Object value) implements MethodResponse {
    }

    /** {@code fault/value/struct{faultCode, faultString}}. */
    record Fault(int code, String message) implements MethodResponse {
        public Fault {
            Objects.requireNonNull(message, "message");
        }
    }
}
