package org.xenstorage.idl.types;

import java.util.Objects;

/** {@code block_device}: a block device path in dom0. */
public record BlockDeviceInfo(String path) {
    public BlockDeviceInfo {
        Objects.requireNonNull(path, "path");
    }
}
