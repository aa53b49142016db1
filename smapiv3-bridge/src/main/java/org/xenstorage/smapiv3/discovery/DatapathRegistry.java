package org.xenstorage.smapiv3.discovery;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.smapiv3.idl.PluginInfo;
import org.xenstorage.smapiv3.script.ScriptExec;
import org.xenstorage.smapiv3.script.ScriptParams;

/**
 * Datapath plugins by URI scheme. A plugin is registered once its {@code Plugin.query} succeeds with
 * a supported {@code required_api_version}; a failure leaves it unregistered until the next rescan.
 */
public final class DatapathRegistry {
    private static final Logger LOG = LoggerFactory.getLogger(DatapathRegistry.class);
    /** The SMAPIv3 API versions a datapath plugin may require, oldest first; the last is current. */
    public static final List<String> SUPPORTED_API_VERSIONS = List.of("3.0", "5.0");

    private final ScriptExec exec;
    private final Map<String, DatapathPlugin> plugins = new ConcurrentHashMap<>();

    public DatapathRegistry(ScriptExec exec) {
        this.exec = exec;
    }

    /** Runs {@code Plugin.query} in {@code dir} and registers the plugin; false (logged) on any failure. */
    public boolean register(String scheme, Path dir) {
        exec.forget(dir);
        PluginInfo info;
        try {
            info = exec.call(dir, "Plugin.query", ScriptParams.dbg("register").toJson(), PluginInfo.class);
        } catch (StorageException e) {
            LOG.error("Datapath plugin {} not registered: Plugin.query failed: {}", scheme, e.getMessage());
            plugins.remove(scheme);
            return false;
        }
        String v = info.requiredApiVersion();
        if (!SUPPORTED_API_VERSIONS.contains(v)) {
            LOG.error("Datapath plugin {} not registered: {} requires unknown SMAPI API version {}, supported: {}",
                    scheme, scheme, v, String.join(",", SUPPORTED_API_VERSIONS));
            plugins.remove(scheme);
            return false;
        }
        String latest = SUPPORTED_API_VERSIONS.get(SUPPORTED_API_VERSIONS.size() - 1);
        if (!v.equals(latest)) {
            LOG.warn("Using deprecated SMAPIv3 API version {}, latest is {}. Update your {} plugin!", v, latest, scheme);
        }
        plugins.put(scheme, new DatapathPlugin(scheme, dir, info));
        LOG.info("Registered datapath plugin {}", scheme);
        return true;
    }

    public void unregister(String scheme) {
        DatapathPlugin removed = plugins.remove(scheme);
        if (removed != null) {
            exec.forget(removed.dir());
            LOG.info("Unregistered datapath plugin {}", scheme);
        }
    }

    public Optional<DatapathPlugin> get(String scheme) {
        return Optional.ofNullable(plugins.get(scheme));
    }

    public Set<String> schemes() {
        return new TreeSet<>(plugins.keySet());
    }
}
