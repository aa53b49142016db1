package org.xenstorage.smapiv3.idl;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/** The SMAPIv3 {@code Plugin.query} result; every member is required. */
public record PluginInfo(String plugin, String name, String description, String vendor, String copyright,
                         String version, String requiredApiVersion, List<String> features,
                         Map<String, String> configuration, List<String> requiredClusterStack) {
    public PluginInfo {
        Objects.requireNonNull(plugin, "plugin");
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(description, "description");
        Objects.requireNonNull(vendor, "vendor");
        Objects.requireNonNull(copyright, "copyright");
        Objects.requireNonNull(version, "version");
        Objects.requireNonNull(requiredApiVersion, "required_api_version");
        features = List.copyOf(features);
        configuration = Map.copyOf(configuration);
        requiredClusterStack = List.copyOf(requiredClusterStack);
    }

    public boolean hasFeature(String feature) {
        return features.contains(feature);
    }
}
