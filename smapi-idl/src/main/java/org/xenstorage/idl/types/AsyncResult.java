package org.xenstorage.idl.types;

import java.util.Objects;
import org.xenstorage.idl.wire.Tag;

/** {@code Task.async_result}: what a completed storage task produced. */
public sealed interface AsyncResult {
    /** {@code Vdi_info}. */
    @Tag("Vdi_info")
    record VdiInfoResult(VdiInfo value) implements AsyncResult {
        public VdiInfoResult {
            Objects.requireNonNull(value);
        }
    }

    /** {@code Mirror_id}. */
    @Tag("Mirror_id")
    record MirrorId(String id) implements AsyncResult {
        public MirrorId {
            Objects.requireNonNull(id);
        }
    }
}
