package org.xenstorage.smapiv3.idl;

import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/** One element of the SMAPIv3 {@code SR.probe} result. */
public record ProbeResult(Map<String, String> configuration, boolean complete, Optional<SrStat> sr,
                          Map<String, String> extraInfo) {
    public ProbeResult {
        configuration = new java.util.LinkedHashMap<>(configuration);
        Objects.requireNonNull(sr, "sr");
        extraInfo = new java.util.LinkedHashMap<>(extraInfo);
    }
}
