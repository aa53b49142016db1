package org.xenstorage.smapiv1.driver;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The parsed {@code sr_get_driver_info} answer (spec section 1.3).
 *
 * @param configuration the device-config keys the driver documents (key -> description)
 */
public record DriverInfo(String name, String description, String vendor, String copyright, String driverVersion,
                         String requiredApiVersion, List<Feature> features, Map<String, String> configuration,
                         List<String> supportedImageFormats) {
    public DriverInfo {
        Objects.requireNonNull(name);
        features = List.copyOf(features);
        configuration = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(configuration));
        supportedImageFormats = List.copyOf(supportedImageFormats);
    }

    /** Whether the driver declared the capability ({@code VDI_MIRROR} also means {@code VDI_MIRROR_IN}). */
    public boolean has(String capability) {
        for (Feature f : features) {
            if (f.name().equals(capability) || (capability.equals("VDI_MIRROR_IN") && f.name().equals("VDI_MIRROR"))) {
                return true;
            }
        }
        return false;
    }

    /**
     * Parses the driver's struct.
     *
     * @throws IllegalArgumentException naming the missing or ill-typed member
     */
    public static DriverInfo parse(Object value) {
        if (!(value instanceof Map<?, ?> m)) {
            throw new IllegalArgumentException("driver info is not a struct");
        }
        List<String> caps = strings(m, "capabilities", true);
        Object conf = m.get("configuration");
        if (!(conf instanceof Object[] entries)) {
            throw new IllegalArgumentException("driver info: configuration missing or not an array");
        }
        Map<String, String> configuration = new LinkedHashMap<>();
        for (Object e : entries) {
            if (!(e instanceof Map<?, ?> kv) || !(kv.get("key") instanceof String k)
                    || !(kv.get("description") instanceof String d)) {
                throw new IllegalArgumentException("driver info: configuration entry is not {key, description}");
            }
            configuration.putIfAbsent(k, d);
        }
        return new DriverInfo(string(m, "name"), string(m, "description"), string(m, "vendor"),
                string(m, "copyright"), string(m, "driver_version"), string(m, "required_api_version"),
                Feature.parseAll(caps), configuration,
                m.containsKey("supported_image_formats") ? strings(m, "supported_image_formats", false) : List.of());
    }

    private static String string(Map<?, ?> m, String key) {
        if (!(m.get(key) instanceof String s)) {
            throw new IllegalArgumentException("driver info: " + key + " missing or not a string");
        }
        return s;
    }

    private static List<String> strings(Map<?, ?> m, String key, boolean required) {
        Object v = m.get(key);
        if (!(v instanceof Object[] a)) {
            if (!required && v == null) {
                return List.of();
            }
            throw new IllegalArgumentException("driver info: " + key + " missing or not an array");
        }
        List<String> out = new ArrayList<>();
        for (Object o : a) {
            if (!(o instanceof String s)) {
                throw new IllegalArgumentException("driver info: " + key + " has a non-string member");
            }
            out.add(s);
        }
        return out;
    }
}
