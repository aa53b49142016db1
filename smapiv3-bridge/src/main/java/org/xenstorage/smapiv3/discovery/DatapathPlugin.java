package org.xenstorage.smapiv3.discovery;

import java.nio.file.Path;
import java.util.Objects;
import org.xenstorage.smapiv3.idl.PluginInfo;

/** A registered datapath plugin: its URI scheme (= directory name), directory and cached query. */
public record DatapathPlugin(String scheme, Path dir, PluginInfo info) {
    public DatapathPlugin {
        Objects.requireNonNull(scheme, "scheme");
        Objects.requireNonNull(dir, "dir");
        Objects.requireNonNull(info, "info");
    }

    public boolean hasFeature(String feature) {
        return info.hasFeature(feature);
    }
}
