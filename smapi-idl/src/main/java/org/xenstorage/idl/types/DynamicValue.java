package org.xenstorage.idl.types;

import java.util.Objects;
import org.xenstorage.idl.wire.Tag;

/** {@code Dynamic.t}: an object together with its current value (not used by any method signature). */
public sealed interface DynamicValue {
    /** {@code Task_t}. */
    @Tag("Task_t")
    record TaskValue(String id, TaskInfo task) implements DynamicValue {
        public TaskValue {
            Objects.requireNonNull(id);
            Objects.requireNonNull(task);
        }
    }

    /** {@code Vdi_t}. */
    @Tag("Vdi_t")
    record VdiValue(String vdi, VdiInfo info) implements DynamicValue {
        public VdiValue {
            Objects.requireNonNull(vdi);
            Objects.requireNonNull(info);
        }
    }

    /** {@code Dp_t}. */
    @Tag("Dp_t")
    record DpValue(String dp, DpStat stat) implements DynamicValue {
        public DpValue {
            Objects.requireNonNull(dp);
            Objects.requireNonNull(stat);
        }
    }

    /** {@code Mirror_t}. */
    @Tag("Mirror_t")
    record MirrorValue(String id, MirrorInfo mirror) implements DynamicValue {
        public MirrorValue {
            Objects.requireNonNull(id);
            Objects.requireNonNull(mirror);
        }
    }
}
