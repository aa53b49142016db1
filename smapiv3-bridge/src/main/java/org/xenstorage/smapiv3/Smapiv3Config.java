package org.xenstorage.smapiv3;

import java.nio.file.Path;
import java.time.Duration;

/**
 * What the SMAPIv3 bridge needs to run.
 *
 * @param pluginRoot    holds {@code volume/<plugin>/} and {@code datapath/<scheme>/}
 * @param stateDir      where the attached-SR table is kept
 * @param queuePrefix   volume plugins are served on {@code <queuePrefix>.<plugin>}
 * @param scriptTimeout a script running longer is killed
 * @param maxConcurrent script execs in flight at once
 */
public record Smapiv3Config(Path pluginRoot, Path stateDir, String queuePrefix, Duration scriptTimeout,
                            int maxConcurrent) {
}
