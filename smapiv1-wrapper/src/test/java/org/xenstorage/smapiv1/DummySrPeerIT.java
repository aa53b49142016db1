package org.xenstorage.smapiv1;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfEnvironmentVariable;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.Implementation;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.testing.Soon;

/**
 * LOCAL ONLY (upstream code is never committed): the backend against upstream's unmodified DummySR,
 * with our embedded XenAPI endpoint as its xapi. Runs when {@code SMAPIV1_SM_TREE} names an extracted
 * xapi-project/sm tree ({@code git archive HEAD libs drivers misc}); needs root, python3-bitarray and
 * uuid-runtime, and the harness' pylib ({@code SMAPIV1_HARNESS_PYLIB}, default
 * {@code /work/shared/spec/smapiv1-harness/pylib}). See docs/smapiv1.md.
 */
@EnabledIfEnvironmentVariable(named = "SMAPIV1_SM_TREE", matches = ".+")
class DummySrPeerIT {
    @TempDir
    Path tmp;

    @Test
    void upstreamDummySrRunsThroughTheBackend() throws Exception {
        Path sm = Path.of(System.getenv("SMAPIV1_SM_TREE"));
        String pylib = System.getenv().getOrDefault("SMAPIV1_HARNESS_PYLIB", "/work/shared/spec/smapiv1-harness/pylib");
        Path smDir = Files.createDirectories(tmp.resolve("sm"));
        Files.copy(sm.resolve("drivers/DummySR"), smDir.resolve("DummySR"), StandardCopyOption.REPLACE_EXISTING);
        Files.setPosixFilePermissions(smDir.resolve("DummySR"), PosixFilePermissions.fromString("rwxr-xr-x"));
        Path inventory = tmp.resolve("inventory");
        Map<String, String> env = Map.of(
                "PYTHONPATH", pylib + ":" + sm.resolve("libs") + ":" + sm.resolve("misc/fairlock"),
                "SM_INVENTORY", inventory.toString(),
                "SM_ERRORCODES_XML", sm.resolve("libs/sm/core/XE_SR_ERRORCODES.xml").toString());
        try (Smapiv1Backend b = Smapiv1Backend.start(TestDrivers.config(smDir, tmp.resolve("state"),
                Soon.times(2)), null, Smapiv1Backend.Options.defaults().withDriverEnvironment(env))) {
            Files.writeString(inventory, "INSTALLATION_UUID='" + b.catalogue().orElseThrow().hostUuid() + "'\n");
            assertEquals(List.of("dummy"), List.copyOf(b.types()));
            StorageService v2 = b.serviceFor("dummy");
            assertTrue(v2.query().query("t").features().contains("VDI_SNAPSHOT/1"));
            String sr = UUID.randomUUID().toString();
            v2.sr().create("t", sr, "dummy sr", "", Map.of(), 0);
            v2.sr().attach("t", sr, Map.of());
            VdiInfo vdi = v2.vdi().create("t", sr, VdiInfo.defaults("", "disk0").withSizes(10L << 30, 0));
            assertEquals(10L << 30, vdi.virtualSize());
            assertEquals(vdi.vdi(), v2.vdi().stat("t", sr, vdi.vdi()).vdi());
            Backend backend = v2.vdi().attach3("t", "dp0", sr, vdi.vdi(), "0", true);
            assertTrue(backend.first(Implementation.XenDisk.class).isPresent());
            v2.vdi().activate3("t", "dp0", sr, vdi.vdi(), "0");
            v2.vdi().deactivate("t", "dp0", sr, vdi.vdi(), "0");
            v2.vdi().detach("t", "dp0", sr, vdi.vdi(), "0");
            VdiInfo snap = v2.vdi().snapshot("t", sr, vdi.withNames("snap", ""));
            assertTrue(snap.isASnapshot());
            VdiInfo clone = v2.vdi().clone("t", sr, vdi.withNames("clone", ""));
            assertEquals(20L << 30, v2.vdi().resize("t", sr, vdi.vdi(), 20L << 30));
            List<String> names = v2.sr().scan2("t", sr).vdis().stream().map(VdiInfo::nameLabel).sorted().toList();
            assertEquals(List.of("clone", "disk0", "snap"), names);
            v2.vdi().destroy("t", sr, clone.vdi());
            v2.vdi().destroy("t", sr, snap.vdi());
            v2.vdi().destroy("t", sr, vdi.vdi());
            v2.sr().detach("t", sr);
        }
    }
}
