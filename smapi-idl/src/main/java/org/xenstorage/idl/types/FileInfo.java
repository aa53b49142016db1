package org.xenstorage.idl.types;

import java.util.Objects;

/** {@code file}: a regular file holding the disk image. */
public record FileInfo(String path) {
    public FileInfo {
        Objects.requireNonNull(path, "path");
    }
}
