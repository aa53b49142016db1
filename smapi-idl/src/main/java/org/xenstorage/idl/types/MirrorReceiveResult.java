package org.xenstorage.idl.types;

import java.util.Objects;
import java.util.Optional;
import org.xenstorage.idl.wire.Tag;

/** {@code Mirror.mirror_receive_result}: how the destination of a storage migration wants to be fed. */
public sealed interface MirrorReceiveResult {
    /** {@code Vhd_mirror}: a SMAPIv1 destination (name kept for compatibility). */
    @Tag("Vhd_mirror")
    record VhdMirror(Vhd value) implements MirrorReceiveResult {
        public VhdMirror {
            Objects.requireNonNull(value);
        }
    }

    /** {@code SMAPIv3_mirror}: a SMAPIv3 destination fed over NBD. */
    @Tag("SMAPIv3_mirror")
    record Smapiv3Mirror(Smapiv3 value) implements MirrorReceiveResult {
        public Smapiv3Mirror {
            Objects.requireNonNull(value);
        }
    }

    /** {@code Mirror.mirror_receive_result_vhd_t}. */
    record Vhd(VdiInfo mirrorVdi, String mirrorDatapath, Optional<String> copyDiffsFrom, String copyDiffsTo,
               String dummyVdi) {
        public Vhd {
            Objects.requireNonNull(mirrorVdi, "mirror_vdi");
            Objects.requireNonNull(mirrorDatapath, "mirror_datapath");
            Objects.requireNonNull(copyDiffsFrom, "copy_diffs_from");
            Objects.requireNonNull(copyDiffsTo, "copy_diffs_to");
            Objects.requireNonNull(dummyVdi, "dummy_vdi");
        }
    }

    /** {@code Mirror.mirror_receive_result_smapiv3_t}. */
    record Smapiv3(VdiInfo mirrorVdi, String mirrorDatapath, String nbdExport) {
        public Smapiv3 {
            Objects.requireNonNull(mirrorVdi, "mirror_vdi");
            Objects.requireNonNull(mirrorDatapath, "mirror_datapath");
            Objects.requireNonNull(nbdExport, "nbd_export");
        }
    }
}
