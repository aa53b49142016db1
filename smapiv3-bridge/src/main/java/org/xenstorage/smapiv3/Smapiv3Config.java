package org.xenstorage.smapiv3;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import org.xenstorage.statefile.BootScope;

/**
 * What the SMAPIv3 bridge needs to run.
 *
 * @param pluginRoot    holds {@code volume/<plugin>/} and {@code datapath/<scheme>/}
 * @param stateDir      where the attached-SR table is kept
 * @param queuePrefix   volume plugins are served on {@code <queuePrefix>.<plugin>}
 * @param scriptTimeout a script running longer is killed
 * @param maxConcurrent script execs in flight at once
 * @param killOnTimeout whether a script past {@code scriptTimeout} is killed (else reported every few minutes)
 * @param bootIdFile    the current boot's id ({@link BootScope#KERNEL_BOOT_ID}): attach state recorded in another
 *                      boot is not loaded (nothing is attached after a reboot)
 */
public record Smapiv3Config(Path pluginRoot, Path stateDir, String queuePrefix, Duration scriptTimeout,
                            int maxConcurrent, boolean killOnTimeout, Path bootIdFile) {
    /** A configuration whose script timeout kills. */
    public Smapiv3Config(Path pluginRoot, Path stateDir, String queuePrefix, Duration scriptTimeout, int maxConcurrent) {
        this(pluginRoot, stateDir, queuePrefix, scriptTimeout, maxConcurrent, true);
    }

    /** A configuration tied to the kernel's boot id. */
    public Smapiv3Config(Path pluginRoot, Path stateDir, String queuePrefix, Duration scriptTimeout, int maxConcurrent,
                         boolean killOnTimeout) {
        this(pluginRoot, stateDir, queuePrefix, scriptTimeout, maxConcurrent, killOnTimeout, BootScope.KERNEL_BOOT_ID);
    }

    /** xapi finds SMAPIv3 SR types by listing queues under this prefix. */
    public static final String DEFAULT_QUEUE_PREFIX = "org.xen.xapi.storage";
    /** Upstream waits for ever; we kill a script after this by default. */
    public static final Duration DEFAULT_SCRIPT_TIMEOUT = Duration.ofMinutes(20);
    public static final int DEFAULT_MAX_CONCURRENT = 16;

    public Smapiv3Config {
        Objects.requireNonNull(pluginRoot, "pluginRoot");
        Objects.requireNonNull(stateDir, "stateDir");
        Objects.requireNonNull(queuePrefix, "queuePrefix");
        Objects.requireNonNull(scriptTimeout, "scriptTimeout");
        Objects.requireNonNull(bootIdFile, "bootIdFile");
        if (queuePrefix.isEmpty() || queuePrefix.endsWith(".")) {
            throw new IllegalArgumentException("queue prefix must be non-empty without a trailing dot: " + queuePrefix);
        }
        if (scriptTimeout.isNegative() || scriptTimeout.isZero()) {
            throw new IllegalArgumentException("script timeout must be positive");
        }
        if (maxConcurrent <= 0) {
            throw new IllegalArgumentException("maxConcurrent must be positive");
        }
    }

    /** The defaults for everything but the two directories. */
    public static Smapiv3Config of(Path pluginRoot, Path stateDir) {
        return new Smapiv3Config(pluginRoot, stateDir, DEFAULT_QUEUE_PREFIX, DEFAULT_SCRIPT_TIMEOUT,
                DEFAULT_MAX_CONCURRENT);
    }

    public Smapiv3Config withQueuePrefix(String prefix) {
        return new Smapiv3Config(pluginRoot, stateDir, prefix, scriptTimeout, maxConcurrent, killOnTimeout, bootIdFile);
    }

    public Smapiv3Config withScriptTimeout(Duration timeout) {
        return new Smapiv3Config(pluginRoot, stateDir, queuePrefix, timeout, maxConcurrent, killOnTimeout, bootIdFile);
    }

    public Smapiv3Config withMaxConcurrent(int max) {
        return new Smapiv3Config(pluginRoot, stateDir, queuePrefix, scriptTimeout, max, killOnTimeout, bootIdFile);
    }

    public Smapiv3Config withBootIdFile(Path file) {
        return new Smapiv3Config(pluginRoot, stateDir, queuePrefix, scriptTimeout, maxConcurrent, killOnTimeout, file);
    }

    public Smapiv3Config withKillOnTimeout(boolean kill) {
        return new Smapiv3Config(pluginRoot, stateDir, queuePrefix, scriptTimeout, maxConcurrent, kill, bootIdFile);
    }
}
