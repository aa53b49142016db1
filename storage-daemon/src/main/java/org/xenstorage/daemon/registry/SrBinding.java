package org.xenstorage.daemon.registry;

import java.util.List;
import java.util.Objects;

/**
 * Which backend serves one SR: its type, the queue the mux forwards to, and what the backend said about
 * itself when the SR was registered (upstream's plugin record, minus the rpc function).
 *
 * @param sr            the SR id (uuid) as SMAPIv2 calls name it
 * @param srType        the backend type ({@code ext}, {@code simplefile}, ...)
 * @param queue         {@code <queuePrefix>.<srType>}
 * @param backendDomain what {@code Policy.get_backend_vm} answers (the driver domain's VM uuid)
 * @param features      the backend's {@code Query.query} features, as reported
 * @param smapiVersion  the backend's {@code smapi_version} ({@code SMAPIv1}/{@code SMAPIv3}), or "" if unknown
 */
public record SrBinding(String sr, String srType, String queue, String backendDomain, List<String> features,
                        String smapiVersion) {
    public SrBinding {
        Objects.requireNonNull(sr, "sr");
        Objects.requireNonNull(srType, "srType");
        Objects.requireNonNull(queue, "queue");
        Objects.requireNonNull(backendDomain, "backendDomain");
        features = List.copyOf(features);
        Objects.requireNonNull(smapiVersion, "smapiVersion");
    }

    /**
     * Whether the backend declared {@code name} (plain {@code NAME} or {@code NAME/<version>}), the way
     * upstream parses features.
     */
    public boolean hasFeature(String name) {
        for (String f : features) {
            int slash = f.indexOf('/');
            String n = slash < 0 ? f : f.substring(0, slash);
            if (n.equalsIgnoreCase(name)) {
                return true;
            }
        }
        return false;
    }
}
