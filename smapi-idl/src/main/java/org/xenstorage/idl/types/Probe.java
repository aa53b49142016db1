package org.xenstorage.idl.types;

import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/** {@code probe}: one SR (or candidate configuration) found by {@code SR.probe}. */
public record Probe(Map<String, String> configuration, boolean complete, Optional<SrInfo> sr,
                    Map<String, String> extraInfo) {
    public Probe {
        configuration = Copies.map(configuration);
        Objects.requireNonNull(sr, "sr");
        extraInfo = Copies.map(extraInfo);
    }
}
