package org.xenstorage.smapiv3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.idl.rpc.JsonRpc;
import org.xenstorage.testing.Soon;

/**
 * 10,000 script runs (a tiny shell script, 4 at a time, including failing ones) leave no file
 * descriptor and no child process (zombie or alive) behind.
 */
class ScriptLeakIT {
    private static final int RUNS = 10_000;

    @TempDir
    Path tmp;

    private static long openFds() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }

    /** Direct children of this JVM, zombies included (they keep their /proc entry until reaped). */
    private static List<String> children() throws IOException {
        long me = ProcessHandle.current().pid();
        List<String> out = new ArrayList<>();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path p : procs.filter(p -> p.getFileName().toString().matches("\\d+")).toList()) {
                try {
                    String stat = Files.readString(p.resolve("stat"));
                    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                    if (Long.parseLong(f[1]) == me) {
                        out.add(p.getFileName() + ":" + f[0]);
                    }
                } catch (IOException | RuntimeException e) {
                    // the process went away while we looked
                }
            }
        }
        return out;
    }

    @Test
    void tenThousandScriptRunsLeakNothing() throws Exception {
        PluginRoot root = new PluginRoot(tmp);
        Path dir = root.volume.resolve("org.xen.xapi.storage.tiny");
        Files.createDirectories(dir);
        Path ok = dir.resolve("Plugin.diagnostics");
        Files.writeString(ok, "#!/bin/sh\ncat >/dev/null\necho '\"ok\"'\n");
        Path bad = dir.resolve("SR.probe");
        Files.writeString(bad, "#!/bin/sh\necho oops\nexit 3\n");
        for (Path p : List.of(ok, bad)) {
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        try (Smapiv3Bridge bridge = Smapiv3Bridge.start(
                root.config().withMaxConcurrent(4).withScriptTimeout(Soon.timeout()), null,
                java.util.Map.of("PATH", "/usr/bin:/bin"))) {
            // warm up thread pools before taking the baseline
            for (int i = 0; i < 50; i++) {
                Soon.get(bridge.dispatch("tiny", JsonRpc.request("Query.diagnostics", V2.params("dbg", "w"))));
            }
            long fdsBefore = openFds();
            int okReplies = 0;
            int errorReplies = 0;
            for (int batch = 0; batch < RUNS / 100; batch++) {
                List<CompletableFuture<String>> replies = new ArrayList<>();
                for (int i = 0; i < 100; i++) {
                    String request = i % 10 == 0
                            ? JsonRpc.request("SR.probe", V2.params("dbg", "l", "queue", "q",
                                    "device_config", V2.map(), "sm_config", V2.map()))
                            : JsonRpc.request("Query.diagnostics", V2.params("dbg", "l"));
                    replies.add(bridge.dispatch("tiny", request));
                }
                for (CompletableFuture<String> r : replies) {
                    String text = Soon.get(r);
                    if (text.contains("\"result\":\"ok\"")) {
                        okReplies++;
                    } else if (text.contains("non-zero exit and bad json on stdout")) {
                        errorReplies++;
                    }
                }
            }
            assertEquals(RUNS * 9 / 10, okReplies);
            assertEquals(RUNS / 10, errorReplies);
            // allow the JVM's own bookkeeping a little slack, never one fd per run
            assertTrue(openFds() <= fdsBefore + 8, "fds before " + fdsBefore + ", after " + openFds());
            assertEquals(List.of(), children());
        }
    }
}
