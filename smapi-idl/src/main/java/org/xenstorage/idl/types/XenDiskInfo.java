package org.xenstorage.idl.types;

import java.util.Map;
import java.util.Objects;

/**
 * {@code xendisk}: what blkback/tapdisk needs.
 *
 * @param params      the xenstore {@code params} key
 * @param extra       keys for the xenstore {@code extra} subdirectory
 * @param backendType e.g. {@code vbd3}
 */
public record XenDiskInfo(String params, Map<String, String> extra, String backendType) {
    public XenDiskInfo {
        Objects.requireNonNull(params, "params");
        extra = Copies.map(extra);
        Objects.requireNonNull(backendType, "backend_type");
    }
}
