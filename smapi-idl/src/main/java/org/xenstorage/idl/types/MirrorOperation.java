package org.xenstorage.idl.types;

import java.util.Objects;

/** {@code Mirror.operation}: a SMAPIv3 copy or mirror operation handle. */
public sealed interface MirrorOperation {
    /** {@code CopyV1}. */
    record CopyV1(String id) implements MirrorOperation {
        public CopyV1 {
            Objects.requireNonNull(id);
        }
    }

    /** {@code MirrorV1}. */
    record MirrorV1(String id) implements MirrorOperation {
        public MirrorV1 {
            Objects.requireNonNull(id);
        }
    }
}
