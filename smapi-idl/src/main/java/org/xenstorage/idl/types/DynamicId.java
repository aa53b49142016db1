package org.xenstorage.idl.types;

import java.util.Objects;

/** {@code Dynamic.id}: an object whose change {@code UPDATES.get} reports. */
public sealed interface DynamicId {
    /** A task changed. */
    record Task(String id) implements DynamicId {
        public Task {
            Objects.requireNonNull(id);
        }
    }

    /** A VDI changed. */
    record Vdi(String vdi) implements DynamicId {
        public Vdi {
            Objects.requireNonNull(vdi);
        }
    }

    /** A datapath changed. */
    record Dp(String dp) implements DynamicId {
        public Dp {
            Objects.requireNonNull(dp);
        }
    }

    /** A mirror changed. */
    record Mirror(String id) implements DynamicId {
        public Mirror {
            Objects.requireNonNull(id);
        }
    }
}
