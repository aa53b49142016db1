package org.xenstorage.smapiv1.driver;

import java.nio.file.Path;
import java.util.Objects;

/**
 * A discovered SM driver.
 *
 * @param type       the SR type: the lower-cased prefix (e.g. {@code localfile})
 * @param prefix     the file name without its {@code SR} suffix, original case (xapi's {@code driver_filename})
 * @param executable {@code <sm-dir>/<prefix>SR}
 */
public record SmDriver(String type, String prefix, Path executable, DriverInfo info) {
    public SmDriver {
        Objects.requireNonNull(type);
        Objects.requireNonNull(prefix);
        Objects.requireNonNull(executable);
        Objects.requireNonNull(info);
    }
}
