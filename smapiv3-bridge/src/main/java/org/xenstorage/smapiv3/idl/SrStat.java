package org.xenstorage.smapiv3.idl;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/** The SMAPIv3 {@code SR.stat} result (also the {@code sr} of a probe result). */
public record SrStat(String sr, String name, Optional<String> uuid, String description, long freeSpace,
                     long totalSpace, List<String> datasources, boolean clustered, Health health) {
    public SrStat {
        Objects.requireNonNull(sr, "sr");
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(uuid, "uuid");
        Objects.requireNonNull(description, "description");
        datasources = List.copyOf(datasources);
        Objects.requireNonNull(health, "health");
    }
}
