package org.xenstorage.smapiv3.idl;

import java.util.Objects;

/** The SMAPIv3 {@code Volume.list_changed_blocks} result: a base64 bitmap at some granularity. */
public record ChangedBlocks(int granularity, String bitmap) {
    public ChangedBlocks {
        Objects.requireNonNull(bitmap, "bitmap");
    }
}
