package org.xenstorage.smapiv1;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.smapiv1.catalogue.Catalogue;
import org.xenstorage.testing.Soon;

/**
 * Host mode: the backend keeps no catalogue and points drivers at an existing XenAPI endpoint
 * (here another backend's embedded endpoint standing in for xapi's local socket). Records the
 * "xapi" made (the SR, its PBD) are used as found; what the driver does lands in that endpoint.
 */
class HostModeTest {
    @TempDir
    Path tmp;

    @Test
    void drivesTheExampleDriverAgainstAnExternalXenApi() throws Exception {
        Path smDir = tmp.resolve("sm");
        TestDrivers.installLocalfile(smDir);
        Path location = tmp.resolve("srdir");
        String sr = UUID.randomUUID().toString();
        try (Smapiv1Backend xapi = Smapiv1Backend.start(TestDrivers.config(smDir, tmp.resolve("xapi"),
                Soon.timeout()), null, Smapiv1Backend.Options.defaults())) {
            // "xapi" creates the SR (records + sr_create), as XenAPI SR.create would
            xapi.serviceFor("localfile").sr().create("t", sr, "host sr", "", Map.of("location", location.toString()),
                    0);
            Path socket = xapi.xenApiSocket().orElseThrow();
            Smapiv1Config hostMode = new Smapiv1Config(smDir, tmp.resolve("host"), "org.xen.xapi.storage",
                    Soon.timeout(), 4, Optional.of(socket));
            try (Smapiv1Backend host = Smapiv1Backend.start(hostMode, null, Smapiv1Backend.Options.defaults())) {
                assertTrue(host.catalogue().isEmpty());
                assertEquals(socket.toString(), host.driverEnvironment().get("XAPI_LOCAL_SOCKET"));
                StorageService v2 = host.serviceFor("localfile");
                v2.sr().attach("t", sr, Map.of("location", location.toString()));
                VdiInfo made = v2.vdi().create("t", sr, VdiInfo.defaults("", "via host mode").withSizes(4096, 0));
                VdiInfo snap = v2.vdi().snapshot("t", sr, made.withNames("snap", ""));
                assertTrue(snap.isASnapshot());
                assertTrue(Files.exists(location.resolve(made.vdi() + ".img")));
                // the records are in the other endpoint's catalogue
                List<String> names = xapi.translationFor("localfile").scan("t", sr).stream()
                        .map(VdiInfo::nameLabel).sorted().toList();
                assertEquals(List.of("snap", "via host mode"), names);
            }
        }
    }

    @Test
    void followsXapisPoolMasterAndSharedFlagOnEveryCall() throws Exception {
        Path smDir = tmp.resolve("sm");
        TestDrivers.installLocalfile(smDir);
        Path location = tmp.resolve("srdir");
        String sr = UUID.randomUUID().toString();
        // "xapi"'s database: this host is a pool member, the master is elsewhere, localfile SRs are shared
        Catalogue.Pool member = new Catalogue.Pool(Optional.of("192.0.2.10"), Set.of("localfile"));
        try (Smapiv1Backend xapi = Smapiv1Backend.start(TestDrivers.config(smDir, tmp.resolve("xapi"),
                Soon.timeout()), null, Smapiv1Backend.Options.defaults().withPool(member))) {
            xapi.serviceFor("localfile").sr().create("t", sr, "pool sr", "", Map.of("location", location.toString()),
                    0);
            Smapiv1Config hostMode = new Smapiv1Config(smDir, tmp.resolve("host"), "org.xen.xapi.storage",
                    Soon.timeout(), 4, xapi.xenApiSocket());
            try (Smapiv1Backend host = Smapiv1Backend.start(hostMode, null, Smapiv1Backend.Options.defaults())) {
                StorageService v2 = host.serviceFor("localfile");
                v2.sr().attach("t", sr, Map.of("location", location.toString()));
                String hostRef = xapi.catalogue().orElseThrow().hostRef();
                assertEquals("false", Json.MAPPER.readTree(location.resolve(".sr-master.json").toFile())
                        .path(hostRef).path("sr_attach").asText());
                StorageException redirect = assertThrows(StorageException.class,
                        () -> v2.vdi().create("t", sr, VdiInfo.defaults("", "d").withSizes(4096, 0)));
                assertEquals(new StorageError.Redirect(Optional.of("192.0.2.10")), redirect.error());
                // this host becomes the master (xapi's pool.designate_new_master): the next call follows
                xapi.catalogue().orElseThrow().configurePool(new Catalogue.Pool(Optional.empty(), Set.of("localfile")));
                VdiInfo made = v2.vdi().create("t", sr, VdiInfo.defaults("", "d").withSizes(4096, 0));
                assertTrue(Files.exists(location.resolve(made.vdi() + ".img")));
                assertEquals("true", Json.MAPPER.readTree(location.resolve(".sr-master.json").toFile())
                        .path(hostRef).path("vdi_create").asText());
            }
        }
    }
}
