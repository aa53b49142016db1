package org.xenstorage.idl.types;

import java.util.Objects;
import java.util.Optional;

/** {@code sr_info}: instantaneous SR statistics (no defaults: every member but {@code sr_uuid} is required). */
public record SrInfo(Optional<String> srUuid, String nameLabel, String nameDescription, long totalSpace,
                     long freeSpace, boolean clustered, SrHealth health) {
    public SrInfo {
        Objects.requireNonNull(srUuid, "sr_uuid");
        Objects.requireNonNull(nameLabel, "name_label");
        Objects.requireNonNull(nameDescription, "name_description");
        Objects.requireNonNull(health, "health");
    }
}
