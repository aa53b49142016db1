package org.xenstorage.smapiv1.driver;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One SMAPIv1 capability with its version, as xapi's {@code Smint.Feature} keeps it: the driver sends
 * {@code NAME} or {@code NAME/<int>}; a missing or unparsable version means 1, below 1 is raised to 1;
 * names outside xapi's table are dropped; the list is sorted and de-duplicated by name.
 */
public record Feature(String name, long version) {
    private static final Logger LOG = LoggerFactory.getLogger(Feature.class);

    /** xapi's table of known SMAPIv1 feature names. */
    public static final Set<String> KNOWN = Set.of("SR_CREATE", "SR_DELETE", "SR_ATTACH", "SR_DETACH", "SR_SCAN",
            "SR_PROBE", "SR_UPDATE", "SR_SUPPORTS_LOCAL_CACHING", "SR_METADATA", "SR_TRIM", "SR_MULTIPATH",
            "SR_CACHING", "SR_STATS", "VDI_CREATE", "VDI_DELETE", "VDI_ATTACH", "VDI_DETACH", "VDI_MIRROR",
            "VDI_MIRROR_IN", "VDI_RESIZE", "VDI_RESIZE_ONLINE", "VDI_CLONE", "VDI_SNAPSHOT", "VDI_ACTIVATE",
            "VDI_ACTIVATE_READONLY", "VDI_DEACTIVATE", "VDI_UPDATE", "VDI_INTRODUCE", "VDI_GENERATE_CONFIG",
            "VDI_ATTACH_OFFLINE", "VDI_RESET_ON_BOOT", "VDI_CONFIG_CBT", "VDI_COMPOSE", "LARGE_VDI",
            "THIN_PROVISIONING", "VDI_READ_CACHING", "VDI_REVERT");

    /** Parses the capability strings a driver sent. */
    public static List<Feature> parseAll(List<String> capabilities) {
        Map<String, Long> byName = new TreeMap<>();
        for (String c : capabilities) {
            Feature f = parse(c);
            if (f == null) {
                LOG.warn("SM driver capability {} is not known to xapi: dropped", c);
            } else {
                byName.putIfAbsent(f.name(), f.version());
            }
        }
        List<Feature> out = new ArrayList<>();
        byName.forEach((n, v) -> out.add(new Feature(n, v)));
        return List.copyOf(out);
    }

    /** One capability string, or null when its name is not in xapi's table. */
    public static Feature parse(String capability) {
        int slash = capability.indexOf('/');
        String name = slash < 0 ? capability : capability.substring(0, slash);
        if (!KNOWN.contains(name)) {
            return null;
        }
        long version = 1;
        if (slash >= 0) {
            try {
                version = Long.parseLong(capability.substring(slash + 1));
            } catch (NumberFormatException e) {
                LOG.warn("SM driver capability {} has an unparsable version: taken as 1", capability);
            }
        }
        return new Feature(name, Math.max(1, version));
    }

    /** The text SMAPIv2 {@code Query.query} shows: always with the version. */
    public String text() {
        return name + "/" + version;
    }
}
