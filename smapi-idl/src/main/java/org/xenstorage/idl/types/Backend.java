package org.xenstorage.idl.types;

import java.util.List;
import java.util.Optional;

/** {@code backend}: every implementation offered by an attach, in the backend's order of preference. */
public record Backend(List<Implementation> implementations) {
    public Backend {
        implementations = List.copyOf(implementations);
    }

    /** The first implementation of the given kind. */
    public <T extends Implementation> Optional<T> first(Class<T> kind) {
        return implementations.stream().filter(kind::isInstance).map(kind::cast).findFirst();
    }
}
