package org.xenstorage.idl.types;

import java.util.Map;
import java.util.Objects;

/** {@code attach_info}: the legacy {@code VDI.attach} result. */
public record AttachInfo(String params, boolean oDirect, String oDirectReason, Map<String, String> xenstoreData) {
    public AttachInfo {
        Objects.requireNonNull(params, "params");
        Objects.requireNonNull(oDirectReason, "o_direct_reason");
        xenstoreData = Copies.map(xenstoreData);
    }
}
