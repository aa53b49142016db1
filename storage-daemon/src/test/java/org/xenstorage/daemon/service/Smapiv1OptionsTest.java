package org.xenstorage.daemon.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.xenstorage.daemon.config.ConfigLoader;
import org.xenstorage.daemon.config.DaemonConfig;
import org.xenstorage.smapiv1.Smapiv1Backend;

/** The SMAPIv1 keys of the daemon's configuration reach the backend's options. */
class Smapiv1OptionsTest {
    @Test
    void configKeysBecomeBackendOptions() throws Exception {
        DaemonConfig c = ConfigLoader.load(new String[] {"--state-dir=/tmp/none",
                "--sm-env.PYTHONPATH=/opt/xensource/sm", "--prefer-nbd-attach=true", "--inventory-file=/tmp/inv"});
        Smapiv1Backend.Options o = DaemonRuntime.smapiv1Options(c);
        assertEquals(Map.of("PYTHONPATH", "/opt/xensource/sm"), o.driverEnvironment());
        assertTrue(o.preferNbdAttach());
        assertEquals(Optional.of(Path.of("/tmp/inv")), o.inventoryFile());

        Smapiv1Backend.Options d = DaemonRuntime.smapiv1Options(ConfigLoader.load(new String[] {"--state-dir=/tmp/none"}));
        assertEquals(Map.of(), d.driverEnvironment());
        assertFalse(d.preferNbdAttach());
        assertEquals(Optional.empty(), d.inventoryFile());
    }
}
