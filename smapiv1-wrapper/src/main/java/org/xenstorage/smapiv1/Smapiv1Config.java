package org.xenstorage.smapiv1;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * What the SMAPIv1 backend needs to run.
 *
 * @param smDir            where {@code <Prefix>SR} drivers are discovered
 * @param stateDir         where the datapath/automaton state (and, embedded, the catalogue) live
 * @param queuePrefix      per-type queues are {@code <queuePrefix>.<type>}
 * @param driverTimeout    a driver exec running longer is killed (whole process group)
 * @param maxConcurrent    driver execs in flight at once
 * @param xapiSocket       host mode: the real xapi's local socket the drivers call back;
 *                         empty: embedded mode, the backend serves the XenAPI subset itself
 */
public record Smapiv1Config(Path smDir, Path stateDir, String queuePrefix, Duration driverTimeout,
                            int maxConcurrent, Optional<Path> xapiSocket) {
}
