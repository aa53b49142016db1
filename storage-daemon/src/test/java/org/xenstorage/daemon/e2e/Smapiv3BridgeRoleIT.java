package org.xenstorage.daemon.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.Implementation;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.statefile.BootScope;
import org.xenstorage.testing.Soon;

/**
 * Issue 14.6: {@code scripts/smapiv3-bridge}, the drop-in for xapi-storage-script, run as a process with the
 * flags docs/smapiv3.md lists (xapi-storage-script's {@code --root}, {@code --state}, {@code --switch-path})
 * against a real switch: it serves the example plugins on {@code <prefix>.<plugin>} (and no mux), a plugin
 * answers SR and VDI calls, and its state.db is where {@code --state} says, with the boot id beside it.
 */
class Smapiv3BridgeRoleIT {
    static final Duration T = Soon.timeout();
    static final String PREFIX = "bridge.role";

    @TempDir
    Path dir;
    SwitchFixture sw;
    DaemonProcess bridge;

    @BeforeEach
    void start() {
        sw = new SwitchFixture(dir);
    }

    @AfterEach
    void stop() throws Exception {
        if (bridge != null) {
            bridge.close();
        }
        sw.close();
    }

    @Test
    void theScriptServesThePluginsWithXapiStorageScriptsFlags() throws Exception {
        Path repo = EmbeddedModeIT.repoRoot();
        Path state = dir.resolve("nonpersistent/xapi-storage-script/state.db");
        bridge = DaemonProcess.exec(dir.resolve("bridge.log"), Map.of("XENSTORAGE_CLASSPATH", DaemonProcess.classpath()),
                List.of(repo.resolve("scripts/smapiv3-bridge").toString(),
                        "--root=" + repo.resolve("examples/smapiv3"), "--state=" + state,
                        "--switch-path=" + sw.socket, "--queue-prefix=" + PREFIX));
        bridge.awaitServing(sw.client, PREFIX + ".simplefile");
        StorageService plugin = sw.storage(PREFIX + ".simplefile", T);
        assertEquals("SMAPIv3", plugin.query().query("it").smapiVersion().name());
        assertFalse(Soon.get(sw.client.list(PREFIX, true)).contains(PREFIX), "no mux in this role");

        String sr = UUID.randomUUID().toString();
        Path srDir = Files.createDirectories(dir.resolve("sr"));
        Map<String, String> conf = Map.of("path", srDir.toString());
        plugin.sr().create("it", sr, "bridge", "", conf, 0);
        plugin.sr().attach("it", sr, conf);
        VdiInfo vdi = plugin.vdi().create("it", sr, VdiInfo.defaults("", "disk").withSizes(1 << 20, 0));
        Backend b = plugin.vdi().attach3("it", "vbd/1/xvda", sr, vdi.vdi(), "vm1", true);
        Path file = Path.of(b.first(Implementation.File.class).orElseThrow().value().path());
        assertTrue(file.startsWith(srDir), file.toString());

        assertTrue(Files.readString(state).contains(sr), "state.db where --state says, upstream's format");
        assertTrue(Files.exists(state.resolveSibling("datapaths.json")));
        assertEquals(BootScope.read(BootScope.KERNEL_BOOT_ID),
                Files.readString(BootScope.sidecarOf(state)).strip(), "the boot id beside state.db");

        plugin.vdi().detach("it", "vbd/1/xvda", sr, vdi.vdi(), "vm1");
        plugin.sr().detach("it", sr);
        assertTrue(List.of(0, 143).contains(bridge.terminate()), bridge.output());
    }

    @Test
    void aMissingRootStopsTheBridgeInsteadOfServingNothing() throws Exception {
        Path repo = EmbeddedModeIT.repoRoot();
        bridge = DaemonProcess.exec(dir.resolve("bad.log"), Map.of("XENSTORAGE_CLASSPATH", DaemonProcess.classpath()),
                List.of(repo.resolve("scripts/smapiv3-bridge").toString(), "--root=" + dir.resolve("absent"),
                        "--state=" + dir.resolve("state.db"), "--switch-path=" + sw.socket));
        assertEquals(1, Soon.exitOf(bridge.process), bridge.output());
        assertTrue(bridge.output().contains("is not a directory"), bridge.output());
    }
}
