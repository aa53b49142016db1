package org.xenstorage.smapiv1.catalogue;

import java.util.List;

/** A XenAPI call answered {@code {Status: Failure, ErrorDescription: [code, params...]}}. */
public final class XenApiFailure extends Exception {
    private final List<String> description;

    public XenApiFailure(String code, String... params) {
        this(prepend(code, params));
    }

    public XenApiFailure(List<String> description) {
        super(String.join(" ", description));
        this.description = List.copyOf(description);
    }

    /** {@code [code, params...]}. */
    public List<String> description() {
        return description;
    }

    public String code() {
        return description.isEmpty() ? "" : description.get(0);
    }

    private static List<String> prepend(String code, String[] params) {
        java.util.ArrayList<String> l = new java.util.ArrayList<>();
        l.add(code);
        l.addAll(List.of(params));
        return l;
    }
}
