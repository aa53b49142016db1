package org.xenstorage.idl.types;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/** {@code query_result}: a backend's self-description (all members required). */
public record QueryResult(String driver, String name, String description, String vendor, String copyright,
                          String version, String requiredApiVersion, List<String> features,
                          Map<String, String> configuration, List<String> requiredClusterStack,
                          List<String> supportedImageFormats, SmapiVersion smapiVersion) {
    public QueryResult {
        Objects.requireNonNull(driver, "driver");
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(description, "description");
        Objects.requireNonNull(vendor, "vendor");
        Objects.requireNonNull(copyright, "copyright");
        Objects.requireNonNull(version, "version");
        Objects.requireNonNull(requiredApiVersion, "required_api_version");
        features = List.copyOf(features);
        configuration = Copies.map(configuration);
        requiredClusterStack = List.copyOf(requiredClusterStack);
        supportedImageFormats = List.copyOf(supportedImageFormats);
        Objects.requireNonNull(smapiVersion, "smapi_version");
    }
}
