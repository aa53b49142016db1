package org.xenstorage.smapiv1;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.rpc.StorageClient;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.smapiv1.catalogue.Catalogue;
import org.xenstorage.testing.Soon;

/**
 * Two SMAPIv1 backends with their own catalogues on one SR directory, one of them a pool member: the
 * SRmaster flag each passes to the real example driver (sm.ml's rule: a shared SR's master is the pool
 * master, a local SR's is its PBD's host), and upstream's Redirect to the master's address for the
 * master-only commands, before any driver runs.
 */
class PoolMasterTest {
    private static final String MASTER_ADDRESS = "192.0.2.10";
    @TempDir
    Path tmp;
    Path smDir;
    Path location;
    Smapiv1Backend master;
    Smapiv1Backend member;
    final String sr = UUID.randomUUID().toString();

    @BeforeEach
    void start() throws Exception {
        smDir = tmp.resolve("sm");
        TestDrivers.installLocalfile(smDir);
        location = tmp.resolve("shared-sr");
        master = backend("master", new Catalogue.Pool(Optional.empty(), Set.of("localfile")));
        member = backend("member", new Catalogue.Pool(Optional.of(MASTER_ADDRESS), Set.of("localfile")));
    }

    @AfterEach
    void stop() {
        member.close();
        master.close();
    }

    private Smapiv1Backend backend(String name, Catalogue.Pool pool) {
        return Smapiv1Backend.start(TestDrivers.config(smDir, tmp.resolve(name), Soon.timeout()), null,
                Smapiv1Backend.Options.defaults().withPool(pool));
    }

    private static StorageService v2(Smapiv1Backend b) {
        return StorageClient.of(text -> b.dispatch("localfile", text));
    }

    /** The SRmaster flag the driver last got from {@code backend}'s host with {@code command}. */
    private String flagSent(Smapiv1Backend backend, String command) throws Exception {
        JsonNode all = Json.MAPPER.readTree(location.resolve(".sr-master.json").toFile());
        return all.path(backend.catalogue().orElseThrow().hostRef()).path(command).asText("<none>");
    }

    private static void assertRedirect(Executable call) {
        StorageException e = assertThrows(StorageException.class, call::run);
        assertEquals(new StorageError.Redirect(Optional.of(MASTER_ADDRESS)), e.error());
    }

    private interface Executable {
        void run() throws Exception;
    }

    @Test
    void aMemberPassesSrMasterFalseForASharedSrRedirectsMasterOnlyCallsAndStillAttaches() throws Exception {
        StorageService m = v2(master);
        StorageService p = v2(member);
        Map<String, String> dc = Map.of("location", location.toString());
        m.sr().create("t", sr, "shared", "", dc, 0);
        m.sr().attach("t", sr, dc);
        assertEquals("true", flagSent(master, "sr_attach"));
        VdiInfo disk = m.vdi().create("t", sr, VdiInfo.defaults("x", "disk0").withSizes(1 << 20, 0));
        assertEquals("true", flagSent(master, "vdi_create"));

        p.sr().attach("t", sr, dc);
        assertEquals("false", flagSent(member, "sr_attach"));
        assertEquals("true", flagSent(master, "sr_attach"), "each host's flag is its own");

        int imgs = images();
        assertRedirect(() -> p.vdi().create("t", sr, VdiInfo.defaults("x", "disk1").withSizes(1 << 20, 0)));
        assertEquals(imgs, images(), "the driver never ran");
        assertRedirect(() -> p.sr().scan("t", sr));
        assertEquals("<none>", flagSent(member, "sr_scan"));

        // the member's own catalogue learns the master's VDI without a scan (vdi_introduce is not master-only)
        p.vdi().introduce("t", sr, disk.vdi(), Map.of(), disk.vdi());
        assertRedirect(() -> p.vdi().snapshot("t", sr, disk));
        assertRedirect(() -> p.vdi().resize("t", sr, disk.vdi(), 2 << 20));
        assertRedirect(() -> p.vdi().destroy("t", sr, disk.vdi()));
        assertRedirect(() -> p.vdi().clone("t", sr, disk));
        assertTrue(Files.exists(location.resolve(disk.vdi() + ".img")));

        // a datapath works on any host
        p.vdi().attach3("t", "dp-member", sr, disk.vdi(), "vm1", true);
        p.vdi().activate3("t", "dp-member", sr, disk.vdi(), "vm1");
        assertEquals("false", flagSent(member, "vdi_attach"));
        assertEquals("false", flagSent(member, "vdi_activate"));
        JsonNode ledger = Json.MAPPER.readTree(location.resolve(".attach-ledger.json").toFile()).path(disk.vdi());
        assertTrue(ledger.path("attached").asBoolean() && ledger.path("activated").asBoolean(), ledger.toString());
        p.dp().destroy2("t", "dp-member", sr, disk.vdi(), "vm1", false);

        // the master still does the master-only work
        m.vdi().resize("t", sr, disk.vdi(), 2 << 20);
        assertEquals("true", flagSent(master, "vdi_resize"));
    }

    @Test
    void aMembersLocalSrHasTheMemberAsItsMaster() throws Exception {
        member.close();
        member = backend("member", new Catalogue.Pool(Optional.of(MASTER_ADDRESS), Set.of()));
        StorageService p = v2(member);
        Map<String, String> dc = Map.of("location", location.toString());
        p.sr().create("t", sr, "local", "", dc, 0);
        p.sr().attach("t", sr, dc);
        assertEquals("true", flagSent(member, "sr_attach"));
        VdiInfo disk = p.vdi().create("t", sr, VdiInfo.defaults("x", "disk0").withSizes(1 << 20, 0));
        assertEquals("true", flagSent(member, "vdi_create"));
        assertTrue(Files.exists(location.resolve(disk.vdi() + ".img")));
    }

    @Test
    void srCreateAlwaysPassesSrMasterTrueAsUpstreamDoes() throws Exception {
        v2(member).sr().create("t", sr, "shared", "", Map.of("location", location.toString()), 0);
        assertEquals("true", flagSent(member, "sr_create"));
    }

    @Test
    void thePoolSettingIsPersistedAndCanBeUndone() throws Exception {
        Catalogue c = member.catalogue().orElseThrow();
        String here = c.hostRef();
        member.close();
        member = backend("member", new Catalogue.Pool(Optional.of(MASTER_ADDRESS), Set.of("localfile")));
        assertEquals(here, member.catalogue().orElseThrow().hostRef(), "this host stays this host");
        Map<String, Object> hosts = recordsOf(member, "host");
        assertEquals(2, hosts.size(), hosts.toString());
        member.close();
        member = backend("member", Catalogue.Pool.SINGLE_HOST);
        assertEquals(List.of(here), List.copyOf(recordsOf(member, "host").keySet()));
        Map<String, Object> pool = recordsOf(member, "pool");
        assertEquals(here, ((Map<?, ?>) pool.values().iterator().next()).get("master"));
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> recordsOf(Smapiv1Backend b, String cls) throws Exception {
        Catalogue c = b.catalogue().orElseThrow();
        String s = c.newInternalSession();
        try {
            return (Map<String, Object>) c.call(cls + ".get_all_records", List.of(s));
        } finally {
            c.destroySession(s);
        }
    }

    private int images() throws Exception {
        try (var files = Files.list(location)) {
            return (int) files.filter(f -> f.toString().endsWith(".img")).count();
        }
    }

    @Test
    void withoutAPoolEverySrIsMasteredHere() throws Exception {
        master.close();
        master = backend("master", Catalogue.Pool.SINGLE_HOST);
        StorageService m = v2(master);
        Map<String, String> dc = Map.of("location", location.toString());
        m.sr().create("t", sr, "local", "", dc, 0);
        m.sr().attach("t", sr, dc);
        assertEquals("true", flagSent(master, "sr_attach"));
    }
}
