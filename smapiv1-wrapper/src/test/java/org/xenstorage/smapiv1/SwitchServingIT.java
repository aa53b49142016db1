package org.xenstorage.smapiv1;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.rpc.StorageClient;
import org.xenstorage.idl.types.DpState;
import org.xenstorage.idl.types.DpStat;
import org.xenstorage.idl.types.Implementation;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.messageswitch.broker.EmbeddedSwitch;
import org.xenstorage.messageswitch.client.SwitchAddress;
import org.xenstorage.messageswitch.client.SwitchRpcClient;
import org.xenstorage.testing.Soon;

/**
 * The backend as xapi's mux reaches it: SMAPIv2 over the real embedded message-switch on
 * {@code org.xen.xapi.storage.<type>}, through the state wrapper and the translation to real
 * driver processes; rescans add and drop queues; a restarted backend keeps its records and state.
 */
class SwitchServingIT {
    private static final Duration TIMEOUT = Soon.timeout();

    @TempDir
    Path tmp;

    private static StorageService over(SwitchRpcClient client, String queue) {
        return StorageClient.of(text -> client.callAsync(queue, text, TIMEOUT));
    }

    @Test
    void servesTheExampleDriverOverTheSwitchAndSurvivesARestart() throws Exception {
        Path smDir = tmp.resolve("sm");
        TestDrivers.installLocalfile(smDir);
        Path sock = tmp.resolve("switch.sock");
        Path location = tmp.resolve("srdir");
        String sr = UUID.randomUUID().toString();
        Smapiv1Config config = TestDrivers.config(smDir, tmp.resolve("state"), Soon.timeout());
        try (EmbeddedSwitch sw = EmbeddedSwitch.start(Optional.of(sock), Optional.empty(), tmp.resolve("switch"));
             SwitchRpcClient client = SwitchRpcClient.connect(SwitchAddress.unix(sock), "smapiv1-it")) {
            VdiInfo disk;
            try (Smapiv1Backend backend = Smapiv1Backend.start(config, SwitchAddress.unix(sock))) {
                StorageService v2 = over(client, "org.xen.xapi.storage.localfile");
                v2.sr().create("t", sr, "sr", "", Map.of("location", location.toString()), 0);
                v2.sr().attach("t", sr, Map.of("location", location.toString()));
                disk = v2.vdi().create("t", sr, VdiInfo.defaults("", "d").withSizes(1 << 20, 0));
                var b = v2.vdi().attach3("t", "vbd/1/xvda", sr, disk.vdi(), "1", true);
                assertEquals(location.resolve(disk.vdi() + ".img").toString(),
                        b.first(Implementation.XenDisk.class).orElseThrow().value().params());
                v2.vdi().activate3("t", "vbd/1/xvda", sr, disk.vdi(), "1");

                // rescan: a second driver appears, gets a queue, and answers on it
                TestDrivers.installResource(smDir, "MisbehaveSR", "MisbehaveSR");
                backend.rescan();
                assertEquals(Set.of("localfile", "misbehave"), backend.types());
                StorageService bad = over(client, "org.xen.xapi.storage.misbehave");
                assertEquals("misbehave", bad.query().query("t").driver());
                StorageException e = assertThrows(StorageException.class, () -> bad.sr().probe("t",
                        "org.xen.xapi.storage.misbehave", Map.of("behave", "exit"), Map.of()));
                assertEquals("SR_BACKEND_FAILURE",
                        assertInstanceOf(StorageError.BackendError.class, e.error()).code());
                Files.delete(smDir.resolve("MisbehaveSR"));
                backend.rescan();
                assertEquals(Set.of("localfile"), backend.types());
            }

            // a new backend over the same state: records and datapath state are still there, no re-attach
            try (Smapiv1Backend again = Smapiv1Backend.start(config, SwitchAddress.unix(sock))) {
                StorageService v2 = over(client, "org.xen.xapi.storage.localfile");
                assertEquals(disk.uuid(), v2.vdi().stat("t", sr, disk.vdi()).uuid());
                DpStat stat = v2.dp().statVdi("t", sr, disk.vdi());
                assertTrue(stat.dps().get("vbd/1/xvda") instanceof DpState.Activated, stat.toString());
                JsonNode ledger = Json.MAPPER.readTree(location.resolve(".attach-ledger.json").toFile());
                assertEquals(1, ledger.get(disk.vdi()).get("attach").asInt(), "no second vdi_attach");
                v2.dp().destroy2("t", "vbd/1/xvda", sr, disk.vdi(), "1", false);
                ledger = Json.MAPPER.readTree(location.resolve(".attach-ledger.json").toFile());
                assertEquals(false, ledger.get(disk.vdi()).get("attached").asBoolean());
                assertEquals(false, ledger.get(disk.vdi()).get("activated").asBoolean());
            }
        }
    }
}
