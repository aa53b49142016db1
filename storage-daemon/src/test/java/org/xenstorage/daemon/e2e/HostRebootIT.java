package org.xenstorage.daemon.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
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
 * Issue 14.1: attach state does not outlive a host reboot. A real daemon (embedded mode, the example
 * {@code localfile} driver and {@code simplefile} plugin) with {@code boot-id-file} pointing at a temp file:
 * attach an SR and a VDI on each, kill the daemon, restart it. With the same boot id everything is still
 * attached (no second {@code sr_attach}, DP_info and holders kept); with another boot id nothing is: the SRs
 * answer {@code Sr_not_attached}, {@code SR.attach} runs
 * the driver's and the plugin's SR attach again, DP_info and {@code DP.stat_vdi} are empty, {@code VDI.attach3}
 * runs the driver again, and the SR registry is kept.
 */
class HostRebootIT {
    static final String PREFIX = EmbeddedModeIT.PREFIX;
    static final Duration T = Soon.timeout();

    @TempDir
    Path dir;
    DaemonProcess daemon;
    SwitchRpcClient client;
    StorageService mux;

    @AfterEach
    void stop() throws Exception {
        if (client != null) {
            client.close();
        }
        if (daemon != null) {
            daemon.close();
        }
    }

    Path state() {
        return dir.resolve("var");
    }

    void startDaemon(String bootId) throws Exception {
        Path bootFile = dir.resolve("boot_id");
        Files.writeString(bootFile, bootId + "\n");
        Path root = EmbeddedModeIT.repoRoot();
        daemon = DaemonProcess.start(dir.resolve("daemon.log"), Map.of("SMAPIV3_REQUEST_LOG",
                        dir.resolve("v3-requests.log").toString()), "--mode=embedded", "--state-dir=" + state(),
                "--boot-id-file=" + bootFile, "--plugin-root=" + root.resolve("examples/smapiv3"),
                "--sm-dir=" + root.resolve("examples/sm"), "--log-level=INFO", "--discovery-interval=1s");
        if (client == null) {
            client = daemon.connect(state().resolve("message-switch.sock"), "reboot");
            mux = StorageClient.of(text -> client.callAsync(PREFIX, text, T));
        }
        daemon.awaitServing(client, PREFIX);
        daemon.awaitStarted("both backend types are live", () -> {
            String types = ext("Registry.types").get("result").toString();
            return types.contains("localfile") && types.contains("simplefile");
        });
    }

    JsonNode ext(String method) throws Exception {
        return Json.parse(client.call(PREFIX, "{\"method\":\"" + method + "\",\"params\":[{\"dbg\":\"it\"}],\"id\":1}",
                T));
    }

    /** The datapaths of the mux's DP_info. */
    Set<String> dpInfo() throws Exception {
        Set<String> out = new TreeSet<>();
        ext("Mux.diagnostics").get("result").get("datapaths").fieldNames().forEachRemaining(out::add);
        return out;
    }

    int srLedger(Path location, String key) throws Exception {
        return Json.parse(Files.readString(location.resolve(".sr-ledger.json"))).path("sr").path(key).asInt();
    }

    int vdiLedger(Path location, String vdiLocation, String key) throws Exception {
        return Json.parse(Files.readString(location.resolve(".attach-ledger.json"))).path(vdiLocation).path(key)
                .asInt();
    }

    /** How many times the SMAPIv3 example plugins ran {@code script}. */
    long v3Runs(String script) throws Exception {
        Path log = dir.resolve("v3-requests.log");
        if (!Files.exists(log)) {
            return 0;
        }
        long n = 0;
        for (String line : Files.readAllLines(log)) {
            if (Json.parse(line).get("script").asText().equals(script)) {
                n++;
            }
        }
        return n;
    }

    @Test
    void attachStateIsTrustedWithinOneBootAndSetAsideAfterAReboot() throws Exception {
        String v1 = UUID.randomUUID().toString();
        String v3 = UUID.randomUUID().toString();
        Path v1Dir = Files.createDirectories(dir.resolve("sr-v1"));
        Path v3Dir = Files.createDirectories(dir.resolve("sr-v3"));
        Map<String, String> v1Conf = Map.of("location", v1Dir.toString());
        Map<String, String> v3Conf = Map.of("path", v3Dir.toString());
        String dp1 = "vbd/1/xvda";
        String dp3 = "vbd/3/xvda";

        startDaemon("boot-one");
        EmbeddedModeIT.register(client, v1, "localfile");
        EmbeddedModeIT.register(client, v3, "simplefile");
        mux.sr().create("it", v1, "v1", "", v1Conf, 0);
        mux.sr().create("it", v3, "v3", "", v3Conf, 0);
        mux.sr().attach("it", v1, v1Conf);
        mux.sr().attach("it", v3, v3Conf);
        VdiInfo disk1 = mux.vdi().create("it", v1, VdiInfo.defaults("", "disk").withSizes(1 << 20, 0));
        VdiInfo disk3 = mux.vdi().create("it", v3, VdiInfo.defaults("", "disk").withSizes(1 << 20, 0));
        mux.vdi().attach3("it", dp1, v1, disk1.vdi(), "vm1", true);
        mux.vdi().activate3("it", dp1, v1, disk1.vdi(), "vm1");
        mux.vdi().attach3("it", dp3, v3, disk3.vdi(), "vm1", true);
        mux.vdi().activate3("it", dp3, v3, disk3.vdi(), "vm1");
        assertEquals(1, srLedger(v1Dir, "attach"));
        assertEquals(1, v3Runs("SR.attach"));
        assertEquals(1, vdiLedger(v1Dir, disk1.vdi(), "attach"));
        assertEquals(1, v3Runs("datapath/file/Datapath.attach"));
        assertEquals(Set.of(dp1, dp3), dpInfo());

        // the same boot: a crash and restart keep everything attached, as before
        daemon.kill9();
        startDaemon("boot-one");
        assertEquals(Set.of(dp1, dp3), dpInfo(), "DP_info kept within one boot");
        // both SRs still attached without an SR.attach, their datapaths held
        assertEquals(Set.of(dp1), mux.dp().statVdi("it", v1, disk1.vdi()).dps().keySet());
        assertEquals(Set.of(dp3), mux.dp().statVdi("it", v3, disk3.vdi()).dps().keySet());
        mux.sr().attach("it", v1, v1Conf);
        assertEquals(1, srLedger(v1Dir, "attach"), "SR.attach of an attached SR runs no sr_attach");
        assertEquals(1, v3Runs("SR.attach"));

        // a reboot: nothing is attached any more
        daemon.kill9();
        startDaemon("boot-two");
        assertEquals(Set.of(), dpInfo(), "DP_info of the previous boot is gone");
        JsonNode registered = ext("Registry.list").get("result");
        assertTrue(registered.has(v1) && registered.has(v3), "the SR registry outlives a reboot: " + registered);
        for (String sr : List.of(v1, v3)) {
            String vdi = sr.equals(v1) ? disk1.vdi() : disk3.vdi();
            StorageException e = assertThrows(StorageException.class, () -> mux.dp().statVdi("it", sr, vdi));
            assertEquals(new StorageError.SrNotAttached(sr), e.error(), "no SR is attached after a reboot");
        }
        mux.sr().attach("it", v1, v1Conf);
        mux.sr().attach("it", v3, v3Conf);
        assertEquals(2, srLedger(v1Dir, "attach"), "SR.attach after a reboot runs sr_attach again");
        assertEquals(2, v3Runs("SR.attach"), "SR.attach after a reboot runs the plugin's SR.attach again");
        assertEquals(Set.of(), mux.dp().statVdi("it", v1, disk1.vdi()).dps().keySet());
        assertEquals(Set.of(), mux.dp().statVdi("it", v3, disk3.vdi()).dps().keySet());
        mux.vdi().attach3("it", dp1, v1, disk1.vdi(), "vm1", true);
        mux.vdi().activate3("it", dp1, v1, disk1.vdi(), "vm1");
        mux.vdi().attach3("it", dp3, v3, disk3.vdi(), "vm1", true);
        assertEquals(2, vdiLedger(v1Dir, disk1.vdi(), "attach"), "VDI.attach3 runs vdi_attach again");
        assertEquals(2, vdiLedger(v1Dir, disk1.vdi(), "activate"), "VDI.activate3 runs vdi_activate again");
        assertEquals(2, v3Runs("datapath/file/Datapath.attach"), "VDI.attach3 runs Datapath.attach again");
        assertEquals(Set.of(dp1, dp3), dpInfo());
        // what the previous boot recorded is kept aside for the operator, never read
        for (String aside : List.of("smapiv1/datapaths-localfile.db", "smapiv3/state.db", "smapiv3/datapaths.json",
                "mux/dps")) {
            assertTrue(Files.exists(state().resolve(aside + ".previous-boot")), aside);
            assertEquals("boot-two", Files.readString(state().resolve(aside + ".boot-id")).strip(), aside);
        }
    }
}
