package org.xenstorage.idl.types;

import java.util.Objects;

/** {@code implementation}: one way a datapath can reach the attached VDI. */
public sealed interface Implementation {
    /** {@code XenDisk}. */
    record XenDisk(XenDiskInfo value) implements Implementation {
        public XenDisk {
            Objects.requireNonNull(value);
        }
    }

    /** {@code BlockDevice}. */
    record BlockDevice(BlockDeviceInfo value) implements Implementation {
        public BlockDevice {
            Objects.requireNonNull(value);
        }
    }

    /** {@code File}. */
    record File(FileInfo value) implements Implementation {
        public File {
            Objects.requireNonNull(value);
        }
    }

    /** {@code Nbd}. */
    record Nbd(NbdInfo value) implements Implementation {
        public Nbd {
            Objects.requireNonNull(value);
        }
    }
}
