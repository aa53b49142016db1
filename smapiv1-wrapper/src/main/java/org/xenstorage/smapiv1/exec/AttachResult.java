package org.xenstorage.smapiv1.exec;

import java.util.Map;
import java.util.Optional;

/** What {@code vdi_attach} returns (spec section 3.4, parser attach_result). */
public record AttachResult(Optional<String> params, String paramsNbd, boolean oDirect, String oDirectReason,
                           Map<String, String> xenstoreData) {
    public AttachResult {
        xenstoreData = Map.copyOf(xenstoreData);
    }
}
