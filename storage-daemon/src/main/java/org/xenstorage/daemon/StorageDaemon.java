package org.xenstorage.daemon;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.daemon.config.ConfigException;
import org.xenstorage.daemon.config.ConfigLoader;
import org.xenstorage.daemon.config.DaemonConfig;
import org.xenstorage.daemon.service.DaemonRuntime;
import org.xenstorage.daemon.service.LogSetup;
import org.xenstorage.daemon.service.SdNotify;

/**
 * {@code storage-daemon}: the SMAPIv2 service xapi calls on {@code org.xen.xapi.storage}, with its backends.
 * Exit codes: 0 after a clean stop, 1 when it cannot start, 2 for a bad configuration.
 */
public final class StorageDaemon {
    private static final Logger LOG = LoggerFactory.getLogger(StorageDaemon.class);

    private StorageDaemon() {
    }

    public static void main(String[] args) {
        DaemonConfig config;
        try {
            ConfigLoader.Parsed parsed = ConfigLoader.parseArgs(args);
            if (parsed.help()) {
                System.out.println(usage());
                return;
            }
            config = ConfigLoader.load(args);
        } catch (ConfigException e) {
            System.err.println("storage-daemon: " + e.getMessage());
            System.exit(2);
            return;
        }
        LogSetup.apply(config);
        LOG.info("starting: mode={} role={} state-dir={} run-dir={} switch-path={} queue-prefix={} (sources: {})",
                config.mode(), config.role(), config.stateDir().toAbsolutePath().normalize(),
                config.runDir().toAbsolutePath().normalize(),
                config.switchPath().toAbsolutePath().normalize(),
                config.queuePrefix(), config.sources());
        DaemonRuntime runtime;
        try {
            runtime = DaemonRuntime.start(config, SdNotify.fromEnvironment());
        } catch (Exception e) {
            LOG.error("cannot start the storage daemon: {}", e.toString(), e);
            System.exit(1);
            return;
        }
        // SIGTERM/SIGINT run the hooks: stop taking work, finish in-flight calls, then exit
        Runtime.getRuntime().addShutdownHook(new Thread(runtime::shutdown, "daemon-shutdown"));
        runtime.awaitTermination();
    }

    static String usage() {
        StringBuilder b = new StringBuilder("usage: storage-daemon [--config=FILE] [--key=value ...]\n\n"
                + "Configuration: " + ConfigLoader.DEFAULT_CONFIG + " (key=value) and "
                + ConfigLoader.DEFAULT_CONFIG + ".d/*.conf in name order; flags win over files.\n\nKeys:\n");
        ConfigLoader.KEYS.forEach((k, d) -> b.append(String.format("  --%-20s %s%n", k, d)));
        return b.toString();
    }
}
