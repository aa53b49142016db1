package org.xenstorage.smapiv3.idl;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * A SMAPIv3 volume as {@code Volume.stat}/{@code create}/{@code snapshot}/{@code clone} and {@code SR.ls}
 * print it. Decoded with the project's rpclib codec: members match case-insensitively, unknown ones
 * (such as {@code volume_type}) are ignored, a missing required member is an error.
 */
public record Volume(String key, Optional<String> uuid, String name, String description, boolean readWrite,
                     boolean sharable, long virtualSize, long physicalUtilisation, List<String> uri,
                     Map<String, String> keys, Optional<Boolean> cbtEnabled) {
    public Volume {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(uuid, "uuid");
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(description, "description");
        uri = List.copyOf(uri);
        keys = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(keys));
        Objects.requireNonNull(cbtEnabled, "cbt_enabled");
    }

    /** The value of metadata key {@code k}, if set. */
    public Optional<String> key(String k) {
        return Optional.ofNullable(keys.get(k));
    }

    /** This volume with {@code (k, v)} put in front of its keys (first entry wins, as upstream's assoc lists). */
    public Volume withKeyInFront(String k, String v) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put(k, v);
        keys.forEach(m::putIfAbsent);
        return new Volume(key, uuid, name, description, readWrite, sharable, virtualSize, physicalUtilisation, uri,
                m, cbtEnabled);
    }
}
