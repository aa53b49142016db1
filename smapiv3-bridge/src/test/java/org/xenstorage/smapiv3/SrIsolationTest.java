package org.xenstorage.smapiv3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.idl.rpc.JsonRpc;
import org.xenstorage.testing.Soon;

/**
 * Issue 13.3 (SMAPIv3): a hung SR does not stall the others. A fake plugin whose SR.stat hangs for SR
 * {@code a} until released; 12 SR.stat calls on {@code a} (three times the bridge's concurrency of 4) are in
 * flight while SR.stat on {@code b} of the same plugin answers. Before the fix every request took a thread of
 * one fixed pool of 4, all held by {@code a}'s calls, so {@code b} waited for the script timeout.
 */
class SrIsolationTest {
    @TempDir
    Path tmp;

    @Test
    void anotherSrOfThePluginAnswersWhileOneSrIsHung() throws Exception {
        PluginRoot root = new PluginRoot(tmp);
        Path dir = root.volume.resolve("org.xen.xapi.storage.fake");
        Path started = tmp.resolve("started");
        Path release = tmp.resolve("release");
        Path hang = tmp.resolve("hang"); // SR.attach runs SR.stat too: a's hangs only once this exists
        PluginRoot.fake(dir, "SR.attach", "print(json.dumps(args['configuration']['name']))");
        PluginRoot.fake(dir, "SR.stat", "if args['sr'] == 'a' and os.path.exists("
                + PluginRoot.pyString(hang.toString()) + "):\n"
                + "    open(" + PluginRoot.pyString(started.toString()) + ", 'a').close()\n"
                + "    while not os.path.exists(" + PluginRoot.pyString(release.toString()) + "):\n"
                + "        time.sleep(0.05)\n"
                + "print(json.dumps({'sr': args['sr'], 'name': 'n', 'description': 'd', 'free_space': 1,"
                + " 'total_space': 2, 'datasources': [], 'clustered': False, 'health': ['Healthy', '']}))");
        try (Smapiv3Bridge bridge = root.start()) {
            V2 v2 = new V2(bridge, "fake");
            v2.ok("SR.attach", "dbg", "t", "sr", "a", "device_config", V2.map("name", "a"));
            v2.ok("SR.attach", "dbg", "t", "sr", "b", "device_config", V2.map("name", "b"));
            Files.createFile(hang);
            List<CompletableFuture<String>> statsOfA = new ArrayList<>();
            for (int i = 0; i < 12; i++) {
                statsOfA.add(bridge.dispatch("fake", JsonRpc.request("SR.stat", V2.params("dbg", "t", "sr", "a"))));
            }
            Soon.await("a's SR.stat hangs in its script", () -> Files.exists(started));
            try {
                for (int i = 0; i < 3; i++) {
                    assertEquals("n", v2.ok("SR.stat", "dbg", "t", "sr", "b").get("name_label").asText(),
                            "b answers while a is hung");
                }
                assertFalse(statsOfA.stream().anyMatch(CompletableFuture::isDone), "a is still hung");
            } finally {
                Files.createFile(release);
            }
            for (CompletableFuture<String> stat : statsOfA) {
                Soon.get(stat, Soon.times(3));
            }
        }
    }
}
