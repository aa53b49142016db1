package org.xenstorage.idl.types;

import java.util.Objects;
import java.util.Optional;

/** {@code Mirror.status}: progress of a SMAPIv3 copy or mirror. */
public record MirrorStatus(boolean failed, boolean complete, Optional<Double> progress) {
    public MirrorStatus {
        Objects.requireNonNull(progress, "progress");
    }
}
