package org.xenstorage.idl.types;

import java.util.List;
import java.util.Objects;
import org.xenstorage.idl.wire.Tag;

/** {@code probe_result}: raw driver text (SMAPIv1) or structured probes (SMAPIv3). */
public sealed interface ProbeResult {
    /** {@code Raw}: arbitrary text, typically XML from a SMAPIv1 driver. */
    record Raw(String value) implements ProbeResult {
        public Raw {
            Objects.requireNonNull(value);
        }
    }

    /** {@code Probe}. */
    @Tag("Probe")
    record Probes(List<Probe> probes) implements ProbeResult {
        public Probes {
            probes = List.copyOf(probes);
        }
    }
}
