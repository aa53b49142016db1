package org.xenstorage.smapiv3.state;

import java.util.List;
import java.util.Objects;

/**
 * One attached SR: the handle the plugin's {@code SR.attach} returned (passed as {@code sr} to every
 * later script) and the xcp-rrdd plugin uids registered for its datasources.
 */
public record AttachedSr(String sr, List<String> uids) {
    public AttachedSr {
        Objects.requireNonNull(sr, "sr");
        uids = List.copyOf(uids);
    }
}
