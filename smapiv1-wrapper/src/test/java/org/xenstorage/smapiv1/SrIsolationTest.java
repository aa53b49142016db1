package org.xenstorage.smapiv1;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.rpc.StorageClient;
import org.xenstorage.testing.Soon;

/**
 * Issue 13.3: calls on one SR never wait for another SR's threads or locks. With the real backend and a test
 * driver whose sr_scan hangs on SR {@code a} until released, 24 scans of {@code a} (more than the backend's
 * concurrency of 8 and than the old fixed pool) are in flight while calls on SR {@code b} of the same driver
 * type run to completion. Before the fix every request took a thread of one fixed pool, and the calls
 * queued behind the hung SR held them all: {@code b}'s calls waited for the driver timeout.
 */
class SrIsolationTest {
    @TempDir
    Path tmp;

    @Test
    void callsOnAnotherSrCompleteWhileOneSrIsHung() throws Exception {
        Path smDir = tmp.resolve("sm");
        TestDrivers.installResource(smDir, "MisbehaveSR", "MisbehaveSR");
        Path started = tmp.resolve("started");
        Path release = tmp.resolve("release");
        // the hung scans must outlive the test's waits: the driver timeout is far beyond them
        try (Smapiv1Backend backend = Smapiv1Backend.start(TestDrivers.config(smDir, tmp.resolve("state"),
                Soon.times(10)), null, Smapiv1Backend.Options.defaults())) {
            StorageService v2 = StorageClient.of(text -> backend.dispatch("misbehave", text));
            Map<String, String> hung = Map.of("behave", "hang_scan", "started", started.toString(),
                    "release", release.toString());
            v2.sr().create("t", "a", "a", "", hung, 0);
            v2.sr().attach("t", "a", hung);
            v2.sr().create("t", "b", "b", "", Map.of("behave", "ok"), 0);
            v2.sr().attach("t", "b", Map.of("behave", "ok"));

            List<CompletableFuture<Void>> scansOfA = new ArrayList<>();
            for (int i = 0; i < 24; i++) {
                scansOfA.add(CompletableFuture.runAsync(() -> v2.sr().scan("t", "a")));
            }
            Soon.await("a scan of a hangs in its driver", () -> Files.exists(started));
            try {
                for (int i = 0; i < 3; i++) {
                    assertEquals(List.of(), Soon.get(CompletableFuture.supplyAsync(() -> v2.sr().scan("t", "b"))),
                            "b answers while a is hung");
                }
                assertFalse(scansOfA.stream().anyMatch(CompletableFuture::isDone), "a is still hung");
            } finally {
                Files.createFile(release);
            }
            for (CompletableFuture<Void> scan : scansOfA) {
                Soon.get(scan, Soon.times(3));
            }
        }
    }
}
