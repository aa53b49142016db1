package org.xenstorage.idl.types;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/** Defensive copies that keep the caller's order (wire output stays deterministic). */
final class Copies {
    private Copies() {
    }

    static <V> Map<String, V> map(Map<String, V> m) {
        Objects.requireNonNull(m);
        Map<String, V> copy = new LinkedHashMap<>(m);
        copy.forEach((k, v) -> Objects.requireNonNull(v, () -> "null value for " + k));
        return Collections.unmodifiableMap(copy);
    }
}
