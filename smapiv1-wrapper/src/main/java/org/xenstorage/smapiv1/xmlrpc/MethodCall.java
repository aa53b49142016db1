package org.xenstorage.smapiv1.xmlrpc;

import java.util.List;
import java.util.Objects;

/** A decoded XML-RPC {@code methodCall}. */
public record MethodCall(String methodName, List<Object> params) {
    public MethodCall {
        Objects.requireNonNull(methodName, "methodName");
        params = java.util.Collections.unmodifiableList(new java.util.ArrayList<>(params));
    }
}
