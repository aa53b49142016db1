package org.xenstorage.smapiv3.discovery;

import java.util.Optional;
import java.util.regex.Pattern;

/**
 * How plugin directory names become plugin names. Only names that pass here are ever used to build
 * a path to run, so nothing outside the plugin root can be reached through a name.
 *
 * <p>Volume plugin dir {@code org.xen.xapi.storage.<type>} (upstream's naming) or plain {@code <type>}
 * gives plugin {@code <type>}, which is the SR type and is served on {@code <queuePrefix>.<type>}.
 * Datapath plugin dir names are URI schemes.
 */
public final class PluginNames {
    /** The prefix upstream plugin directories carry; stripped, whatever queue prefix we serve under. */
    public static final String UPSTREAM_PREFIX = "org.xen.xapi.storage.";
    private static final Pattern SR_TYPE = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_+-]{0,63}");
    private static final Pattern SCHEME = Pattern.compile("[A-Za-z][A-Za-z0-9+.-]{0,63}");

    private PluginNames() {
    }

    /** The plugin (SR type) a volume plugin directory serves, or empty when the name is unusable. */
    public static Optional<String> volumePlugin(String dirName) {
        String name = dirName.startsWith(UPSTREAM_PREFIX) ? dirName.substring(UPSTREAM_PREFIX.length()) : dirName;
        return SR_TYPE.matcher(name).matches() ? Optional.of(name) : Optional.empty();
    }

    /** Whether a datapath plugin directory name is a valid URI scheme. */
    public static boolean isScheme(String dirName) {
        return SCHEME.matcher(dirName).matches();
    }

    /** The queue a plugin is served on. */
    public static String queue(String queuePrefix, String plugin) {
        return queuePrefix + "." + plugin;
    }
}
