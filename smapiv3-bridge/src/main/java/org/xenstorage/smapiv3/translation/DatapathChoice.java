package org.xenstorage.smapiv3.translation;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.xenstorage.smapiv3.discovery.DatapathPlugin;
import org.xenstorage.smapiv3.discovery.DatapathRegistry;
import org.xenstorage.smapiv3.idl.Volume;
import org.xenstorage.smapiv3.script.ScriptExec;

/**
 * Picks the datapath plugin for a volume (spec 1.6): the first of its URIs, in order, whose scheme is
 * exactly a registered datapath plugin's name; for a non-persistent use, plugins that can open
 * non-persistently come first.
 */
public final class DatapathChoice {
    /** RFC 3986 appendix B: group 2 is the scheme. */
    private static final Pattern URI = Pattern.compile("^(([^:/?#]+):)?(//([^/?#]*))?([^?#]*)(\\?([^#]*))?(#(.*))?");

    /** A chosen datapath: the plugin and the full URI passed to its scripts. */
    public record Chosen(DatapathPlugin plugin, String uri) {
    }

    private DatapathChoice() {
    }

    public static Optional<String> scheme(String uri) {
        Matcher m = URI.matcher(uri);
        return m.find() ? Optional.ofNullable(m.group(2)) : Optional.empty();
    }

    public static Chosen choose(Volume volume, boolean persistent, DatapathRegistry registry) {
        List<Chosen> candidates = new ArrayList<>();
        for (String uri : volume.uri()) {
            scheme(uri).flatMap(registry::get).ifPresent(p -> candidates.add(new Chosen(p, uri)));
        }
        if (!persistent) {
            List<Chosen> reordered = new ArrayList<>();
            candidates.stream().filter(c -> c.plugin().hasFeature("NONPERSISTENT")).forEach(reordered::add);
            candidates.stream().filter(c -> !c.plugin().hasFeature("NONPERSISTENT")).forEach(reordered::add);
            candidates.clear();
            candidates.addAll(reordered);
        }
        if (candidates.isEmpty()) {
            throw ScriptExec.backend("MISSING_URI", List.of("Please include a URI in the device-config"));
        }
        return candidates.get(0);
    }

    /** The Datapath {@code domain} for a v2 (vm, dp): dom0 users are named after their datapath. */
    public static String domain(String vm, String dp) {
        return vm.equals("0") ? "u0_" + dp.replace('/', '_').replace('-', '_') : vm;
    }
}
