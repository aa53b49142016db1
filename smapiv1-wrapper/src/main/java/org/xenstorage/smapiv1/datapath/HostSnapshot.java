package org.xenstorage.smapiv1.datapath;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An immutable copy of the whole wrapper state: what is written to and read from the state file.
 *
 * @param srs     attached SRs, each a map VDI → record (only VDIs somebody holds)
 * @param errors  newest first, at most {@link DatapathTable#MAX_ERRORS}
 * @param intents SM calls under way (write-ahead records), oldest first
 */
public record HostSnapshot(Map<String, Map<String, VdiRecord>> srs, List<ErrorEntry> errors, List<Intent> intents) {
    public static final HostSnapshot EMPTY = new HostSnapshot(Map.of(), List.of(), List.of());

    public HostSnapshot {
        Map<String, Map<String, VdiRecord>> copy = new LinkedHashMap<>();
        srs.forEach((sr, vdis) -> copy.put(sr, Collections.unmodifiableMap(new LinkedHashMap<>(vdis))));
        srs = Collections.unmodifiableMap(copy);
        errors = List.copyOf(errors);
        intents = List.copyOf(intents);
    }
}
