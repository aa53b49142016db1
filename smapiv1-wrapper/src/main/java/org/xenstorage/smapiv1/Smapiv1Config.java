package org.xenstorage.smapiv1;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import org.xenstorage.statefile.BootScope;

/**
 * What the SMAPIv1 backend needs to run.
 *
 * @param smDir            where {@code <Prefix>SR} drivers are discovered
 * @param stateDir         where state that outlives a reboot lives (embedded mode: the catalogue)
 * @param queuePrefix      per-type queues are {@code <queuePrefix>.<type>}
 * @param driverTimeout    a driver exec running longer is killed (whole process group)
 * @param maxConcurrent    driver execs in flight at once
 * @param xapiSocket       host mode: the real xapi's local socket the drivers call back;
 *                         empty: embedded mode, the backend serves the XenAPI subset itself
 * @param runDir           where the datapath state ({@code datapaths-<type>.db}) lives: what is attached,
 *                         which no longer holds after a reboot (upstream: a tmpfs)
 * @param bootIdFile       the current boot's id ({@link BootScope#KERNEL_BOOT_ID}); datapath state recorded
 *                         in another boot is not loaded
 */
public record Smapiv1Config(Path smDir, Path stateDir, String queuePrefix, Duration driverTimeout,
                            int maxConcurrent, Optional<Path> xapiSocket, Path runDir, Path bootIdFile) {
    /** Datapath state beside the rest of the state, tied to the kernel's boot id. */
    public Smapiv1Config(Path smDir, Path stateDir, String queuePrefix, Duration driverTimeout,
                         int maxConcurrent, Optional<Path> xapiSocket) {
        this(smDir, stateDir, queuePrefix, driverTimeout, maxConcurrent, xapiSocket, stateDir,
                BootScope.KERNEL_BOOT_ID);
    }
}
