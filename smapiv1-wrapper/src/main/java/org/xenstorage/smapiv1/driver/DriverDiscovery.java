package org.xenstorage.smapiv1.driver;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.smapiv1.exec.DriverExec;
import org.xenstorage.smapiv1.exec.SmCall;

/**
 * Finds the SM drivers in the driver directory (spec section 1.2): entries named {@code <Prefix>SR}
 * (prefix: letters, digits and underscore only), on the allow-list, regular files that are
 * executable and, when reached through a symlink, whose target still lies inside the directory.
 * Each is asked {@code sr_get_driver_info} (no session); a driver that fails is logged and skipped,
 * never stopping the scan. The SR type is the lower-cased prefix.
 */
public final class DriverDiscovery {
    private static final Logger LOG = LoggerFactory.getLogger(DriverDiscovery.class);
    /** The file names considered at all: no dots, no path separators, no shell-special characters. */
    public static final Pattern DRIVER_NAME = Pattern.compile("^([A-Za-z0-9_]{1,64})SR$");

    private final Path smDir;
    private final Set<String> allowed;
    private final DriverExec exec;
    private final String hostRef;

    /**
     * @param allowed lower-case prefixes allowed, or {@code Set.of("*")} for all (xapi's {@code sm-plugins})
     */
    public DriverDiscovery(Path smDir, Set<String> allowed, DriverExec exec, String hostRef) {
        this.smDir = smDir;
        this.allowed = allowed;
        this.exec = exec;
        this.hostRef = hostRef;
    }

    /** The outcome of one scan: the drivers by type, and why each other candidate was rejected. */
    public record Scan(Map<String, SmDriver> drivers, Map<String, String> rejected) {
    }

    /** Scans the directory now. */
    public Scan scan() {
        Map<String, SmDriver> drivers = new TreeMap<>();
        Map<String, String> rejected = new TreeMap<>();
        if (!Files.isDirectory(smDir)) {
            LOG.error("SM driver directory {} does not exist: no SMAPIv1 drivers", smDir);
            return new Scan(drivers, rejected);
        }
        Path realDir;
        try {
            realDir = smDir.toRealPath();
        } catch (IOException e) {
            LOG.error("cannot resolve SM driver directory {}: {}", smDir, e.toString());
            return new Scan(drivers, rejected);
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(smDir)) {
            for (Path entry : entries) {
                String name = entry.getFileName().toString();
                if (!name.endsWith("SR")) {
                    continue;
                }
                String why = check(entry, name, realDir);
                if (why != null) {
                    LOG.info("Rejecting SM plugin {}: {}", name, why);
                    rejected.put(name, why);
                    continue;
                }
                String prefix = name.substring(0, name.length() - 2);
                String type = prefix.toLowerCase(Locale.ROOT);
                try {
                    Object info = exec.call(entry, SmCall.of(hostRef, "sr_get_driver_info", List.of(), Map.of()));
                    SmDriver driver = new SmDriver(type, prefix, entry, DriverInfo.parse(info));
                    if (drivers.putIfAbsent(type, driver) != null) {
                        rejected.put(name, "another driver already has type " + type);
                    }
                } catch (StorageException | IllegalArgumentException e) {
                    LOG.warn("Rejecting SM plugin {}: sr_get_driver_info failed: {}", name, e.getMessage());
                    rejected.put(name, "sr_get_driver_info failed: " + e.getMessage());
                }
            }
        } catch (IOException e) {
            LOG.error("cannot list SM driver directory {}: {}", smDir, e.toString());
        }
        return new Scan(drivers, rejected);
    }

    /** Why the entry is not a usable driver, or null when it is. */
    private String check(Path entry, String name, Path realDir) {
        var m = DRIVER_NAME.matcher(name);
        if (!m.matches()) {
            return "name is not <Prefix>SR with a plain prefix";
        }
        String type = m.group(1).toLowerCase(Locale.ROOT);
        if (!allowed.contains("*") && !allowed.contains(type)) {
            return "not on the allow-list";
        }
        try {
            Path real = entry.toRealPath();
            if (!real.getParent().startsWith(realDir) && !real.startsWith(realDir)) {
                return "symlink leads outside " + realDir;
            }
            if (!Files.isRegularFile(real, LinkOption.NOFOLLOW_LINKS)) {
                return "not a regular file";
            }
            if (!Files.isExecutable(real)) {
                return "not executable";
            }
        } catch (IOException e) {
            return "cannot resolve: " + e.getMessage();
        }
        return null;
    }
}
