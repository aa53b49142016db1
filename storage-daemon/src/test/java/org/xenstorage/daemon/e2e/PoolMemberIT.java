package org.xenstorage.daemon.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.rpc.StorageClient;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.messageswitch.client.SwitchRpcClient;
import org.xenstorage.testing.Soon;

/**
 * A pool of two embedded daemons sharing one SR directory: the master (no {@code pool-master}) and a member
 * ({@code pool-master=<address>}), both with {@code shared-sr-types=localfile}. The example driver records
 * the SRmaster flag each host sent; the member's master-only calls come back {@code Redirect} with the
 * master's address over the switch, and a datapath still attaches on the member.
 */
class PoolMemberIT {
    static final String PREFIX = "org.xen.xapi.storage";
    static final String MASTER_ADDRESS = "192.0.2.10";
    static final Duration T = Soon.timeout();

    @TempDir
    Path dir;

    private DaemonProcess start(String name, String... extra) throws Exception {
        Path state = dir.resolve(name);
        String[] args = new String[4 + extra.length];
        args[0] = "--state-dir=" + state;
        args[1] = "--sm-dir=" + EmbeddedModeIT.repoRoot().resolve("examples/sm");
        args[2] = "--smapiv3=false";
        args[3] = "--shared-sr-types=localfile";
        System.arraycopy(extra, 0, args, 4, extra.length);
        return DaemonProcess.start(dir.resolve(name + ".log"), Map.of(), args);
    }

    /** This daemon's host ref: the catalogue's host record that is not the pool master it was told of. */
    private String hostRefOf(String name) throws Exception {
        JsonNode hosts = Json.MAPPER.readTree(dir.resolve(name).resolve("smapiv1/catalogue.json").toFile())
                .path("host");
        for (var it = hosts.fields(); it.hasNext(); ) {
            var e = it.next();
            if (!e.getValue().path("other_config").has("xenstorage_pool_master")) {
                return e.getKey();
            }
        }
        throw new AssertionError("no host of its own in " + hosts);
    }

    private static String flag(Path location, String hostRef, String command) throws Exception {
        return Json.MAPPER.readTree(location.resolve(".sr-master.json").toFile()).path(hostRef).path(command)
                .asText("<none>");
    }

    private static void assertRedirect(Runnable call) {
        StorageException e = assertThrows(StorageException.class, call::run);
        assertEquals(new StorageError.Redirect(Optional.of(MASTER_ADDRESS)), e.error());
    }

    @Test
    void aMemberPassesSrMasterFalseRedirectsMasterOnlyCallsToTheMasterAndAttachesADatapath() throws Exception {
        try (DaemonProcess master = start("master");
             DaemonProcess member = start("member", "--pool-master=" + MASTER_ADDRESS);
             SwitchRpcClient toMaster = master.connect(dir.resolve("master/message-switch.sock"), "it-master");
             SwitchRpcClient toMember = member.connect(dir.resolve("member/message-switch.sock"), "it-member")) {
            master.awaitServing(toMaster, PREFIX);
            member.awaitServing(toMember, PREFIX);
            StorageService m = StorageClient.of(text -> toMaster.callAsync(PREFIX, text, T));
            StorageService p = StorageClient.of(text -> toMember.callAsync(PREFIX, text, T));
            String sr = UUID.randomUUID().toString();
            Path location = dir.resolve("shared-sr");
            Map<String, String> dc = Map.of("location", location.toString());

            EmbeddedModeIT.register(toMaster, sr, "localfile");
            m.sr().create("it", sr, "shared", "", dc, 0);
            m.sr().attach("it", sr, dc);
            VdiInfo disk = m.vdi().create("it", sr, VdiInfo.defaults("", "disk0").withSizes(1 << 20, 0));
            String masterHost = hostRefOf("master");
            assertEquals("true", flag(location, masterHost, "sr_attach"));
            assertEquals("true", flag(location, masterHost, "vdi_create"));

            EmbeddedModeIT.register(toMember, sr, "localfile");
            p.sr().attach("it", sr, dc);
            String memberHost = hostRefOf("member");
            assertEquals("false", flag(location, memberHost, "sr_attach"), member.output());

            assertRedirect(() -> p.vdi().create("it", sr, VdiInfo.defaults("", "disk1").withSizes(1 << 20, 0)));
            assertRedirect(() -> p.sr().scan("it", sr));
            assertEquals("<none>", flag(location, memberHost, "vdi_create"), "the member's driver never ran it");

            // the member's catalogue learns the master's VDI by VDI.introduce (sr_scan is the master's)
            p.vdi().introduce("it", sr, disk.vdi(), Map.of(), disk.vdi());
            assertRedirect(() -> p.vdi().snapshot("it", sr, disk));

            String dp = "vbd/member/xvda";
            p.vdi().attach3("it", dp, sr, disk.vdi(), "vm1", true);
            p.vdi().activate3("it", dp, sr, disk.vdi(), "vm1");
            assertEquals("false", flag(location, memberHost, "vdi_attach"));
            JsonNode ledger = Json.MAPPER.readTree(location.resolve(".attach-ledger.json").toFile()).path(disk.vdi());
            assertTrue(ledger.path("attached").asBoolean() && ledger.path("activated").asBoolean(), ledger.toString());
            JsonNode diag = Json.parse(toMember.call(PREFIX,
                    "{\"method\":\"Mux.diagnostics\",\"params\":[{\"dbg\":\"it\"}],\"id\":3}", T)).path("result");
            assertEquals(disk.vdi(), diag.path("datapaths").path(dp).path("vdi").asText(), diag.toString());
            p.vdi().deactivate("it", dp, sr, disk.vdi(), "vm1");
            p.vdi().detach("it", dp, sr, disk.vdi(), "vm1");

            // the master does the master-only work
            VdiInfo snap = m.vdi().snapshot("it", sr, disk);
            assertTrue(Files.exists(location.resolve(snap.vdi() + ".img")));
            assertEquals("true", flag(location, masterHost, "vdi_snapshot"));
            p.sr().detach("it", sr);
            m.sr().detach("it", sr);
        }
    }
}
