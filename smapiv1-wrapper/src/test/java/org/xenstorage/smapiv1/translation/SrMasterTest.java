package org.xenstorage.smapiv1.translation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.smapiv1.catalogue.XenApiFailure;

/**
 * The SR-master rule as pure logic (xapi's {@code Helpers.get_srmaster}) over a table of XenAPI answers,
 * for the cases the catalogue cannot make: an SR with no PBD, or several.
 */
class SrMasterTest {
    static final String HERE = "OpaqueRef:here";
    static final String THERE = "OpaqueRef:there";
    final Map<String, Object> answers = new HashMap<>();
    final SrMaster srMaster = new SrMaster(new XapiDb((method, params) -> {
        String key = params.size() > 1 ? method + " " + params.get(1) : method;
        if (!answers.containsKey(key)) {
            throw new XenApiFailure("HANDLE_INVALID", key);
        }
        return answers.get(key);
    }, "OpaqueRef:session"), HERE);

    SrMasterTest() {
        answers.put("pool.get_all", List.of("OpaqueRef:pool"));
        answers.put("pool.get_master OpaqueRef:pool", THERE);
        answers.put("host.get_address " + THERE, "192.0.2.10");
        answers.put("PBD.get_uuid OpaqueRef:pbd1", "pbd-1");
        answers.put("PBD.get_uuid OpaqueRef:pbd2", "pbd-2");
        answers.put("PBD.get_host OpaqueRef:pbd1", HERE);
    }

    private void sr(boolean shared, String... pbds) {
        answers.put("SR.get_shared OpaqueRef:sr", shared);
        answers.put("SR.get_PBDs OpaqueRef:sr", List.of(pbds));
    }

    @Test
    void aSharedSrIsMasteredByThePoolMaster() {
        sr(true, "OpaqueRef:pbd1");
        assertFalse(srMaster.isMaster("OpaqueRef:sr"), "the pool master is elsewhere, whoever has the PBD");
        answers.put("pool.get_master OpaqueRef:pool", HERE);
        assertTrue(srMaster.isMaster("OpaqueRef:sr"));
    }

    @Test
    void anUnsharedSrIsMasteredByTheHostOfItsOnlyPbd() {
        sr(false, "OpaqueRef:pbd1");
        assertTrue(srMaster.isMaster("OpaqueRef:sr"), "even though the pool master is elsewhere");
        answers.put("PBD.get_host OpaqueRef:pbd1", THERE);
        assertFalse(srMaster.isMaster("OpaqueRef:sr"));
    }

    @Test
    void anUnsharedSrWithNoPbdOrSeveralFailsAsXapi() {
        sr(false);
        assertEquals(new StorageError.BackendError("SR_NO_PBDS", List.of()),
                assertThrows(StorageException.class, () -> srMaster.isMaster("OpaqueRef:sr")).error());
        sr(false, "OpaqueRef:pbd1", "OpaqueRef:pbd2");
        assertEquals(new StorageError.BackendError("SR_HAS_MULTIPLE_PBDS", List.of("pbd-1", "pbd-2")),
                assertThrows(StorageException.class, () -> srMaster.isMaster("OpaqueRef:sr")).error());
    }

    @Test
    void onlyMasterOnlyCommandsWithoutSrMasterAreRedirectedToThePoolMastersAddress() {
        StorageException e = assertThrows(StorageException.class,
                () -> srMaster.check("vdi_create", Map.of("SRmaster", "false")));
        assertEquals(new StorageError.Redirect(Optional.of("192.0.2.10")), e.error());
        assertThrows(StorageException.class, () -> srMaster.check("sr_scan", Map.of()));
        srMaster.check("vdi_create", Map.of("SRmaster", "true"));
        for (String anywhere : List.of("sr_attach", "sr_detach", "sr_update", "vdi_attach", "vdi_activate",
                "vdi_deactivate", "vdi_detach", "vdi_introduce", "vdi_update", "vdi_epoch_begin")) {
            srMaster.check(anywhere, Map.of("SRmaster", "false"));
        }
    }
}
