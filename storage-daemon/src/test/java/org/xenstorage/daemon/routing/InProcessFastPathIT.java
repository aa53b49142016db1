package org.xenstorage.daemon.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.daemon.config.ConfigLoader;
import org.xenstorage.daemon.config.DaemonConfig;
import org.xenstorage.daemon.service.DaemonRuntime;
import org.xenstorage.daemon.service.SdNotify;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.messageswitch.broker.EmbeddedSwitch;
import org.xenstorage.messageswitch.client.InProcessQueues;
import org.xenstorage.messageswitch.client.SwitchAddress;
import org.xenstorage.messageswitch.client.SwitchQueueServer;
import org.xenstorage.messageswitch.client.SwitchRpcClient;
import org.xenstorage.testing.Soon;

/**
 * The mux's in-process fast path against the switch path, with a real embedded switch and the daemon's real
 * runtime: the golden request of every forwarded SMAPIv2 method goes through the mux to a backend that answers the
 * golden response, once with the backend served in the same JVM (mux-in-process) and once over the switch only.
 * The backend must receive byte-identical request texts and the caller byte-identical replies on both paths, and
 * the fast path must really skip the switch (the switch-side handler sees none of the calls).
 */
class InProcessFastPathIT {
    private static final String PREFIX = "test.fastpath.storage";
    private static final String SR = "sr-golden";

    @TempDir
    Path dir;

    /** What one path gave: the request texts the backend received and the replies the caller got. */
    private record Run(List<String> received, List<String> replies, int overSwitch, int inProcess) {
    }

    @Test
    void bothPathsAreByteIdenticalOnTheGoldenCorpus() throws Exception {
        List<String> corpus = corpus();
        Run fast = run(dir.resolve("fast"), true, corpus);
        Run slow = run(dir.resolve("slow"), false, corpus);
        assertTrue(fast.received().size() > 40, "most methods reach the backend: " + fast.received().size());
        assertEquals(idsHidden(slow.received()), idsHidden(fast.received()),
                "the backend receives the same request texts");
        List<String> verbatim = fast.received().stream().filter(corpus::contains).toList();
        assertTrue(verbatim.size() > 40, "most corpus requests are forwarded verbatim: " + verbatim.size());
        assertEquals(slow.received().stream().filter(corpus::contains).toList(), verbatim,
                "the corpus requests arrive exactly as sent, ids included");
        assertEquals(slow.replies(), fast.replies(), "the caller gets the same reply texts");
        assertEquals(0, fast.overSwitch(), "with the fast path no call takes the switch hop");
        assertEquals(fast.received().size(), fast.inProcess());
        assertEquals(0, slow.inProcess(), "without it every call takes the switch hop");
        assertEquals(slow.received().size(), slow.overSwitch());
    }

    /**
     * The texts with their JSON-RPC id hidden: the calls the mux makes itself (fan-outs, registration, DP
     * bookkeeping) take their ids from a counter of the JVM, which the first run advanced.
     */
    private static List<String> idsHidden(List<String> received) {
        return received.stream().map(r -> r.replaceFirst(",\"id\":\\d+}$", ",\"id\":\"?\"}")).toList();
    }

    /** Golden requests of the methods the mux forwards to an SR's backend (or fans out), aimed at {@link #SR}. */
    private static List<String> corpus() throws Exception {
        List<String> out = new ArrayList<>();
        for (String line : Files.readAllLines(golden(), StandardCharsets.UTF_8)) {
            if (line.isBlank()) {
                continue;
            }
            JsonNode entry = Json.parse(line);
            String method = entry.get("method").textValue();
            // answered by the mux itself from its own state (tasks, updates, copies): not a backend hop
            if (method.startsWith("TASK.") || method.startsWith("UPDATES.") || method.equals("DATA.copy")
                    || method.startsWith("DATA.MIRROR.")) {
                continue;
            }
            ObjectNode req = (ObjectNode) entry.get("request");
            if (req.path("params").path(0) instanceof ObjectNode args && args.has("sr")) {
                args.put("sr", SR);
            }
            // ids far from the mux's own counter, so a forwarded text is never mistaken for one the mux made
            req.put("id", 900_000 + out.size());
            out.add(Json.write(req));
        }
        return out;
    }

    private static Path golden() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.isDirectory(p.resolve("smapi-idl"))) {
            p = p.getParent();
        }
        return p.resolve("smapi-idl/src/test/resources/golden/methods.golden.jsonl");
    }

    /** A backend answering every method's golden response under the request's id, recording what it got. */
    private static Function<String, CompletableFuture<String>> goldenBackend(List<String> received) throws Exception {
        Map<String, JsonNode> responses = new HashMap<>();
        for (String line : Files.readAllLines(golden(), StandardCharsets.UTF_8)) {
            if (!line.isBlank()) {
                JsonNode entry = Json.parse(line);
                responses.put(entry.get("method").textValue(), entry.get("response"));
            }
        }
        return request -> {
            received.add(request);
            try {
                JsonNode req = Json.parse(request);
                ObjectNode reply = (ObjectNode) responses.get(req.get("method").textValue()).deepCopy();
                reply.set("id", req.get("id"));
                return CompletableFuture.completedFuture(Json.write(reply));
            } catch (Exception e) {
                return CompletableFuture.failedFuture(e);
            }
        };
    }

    private static Run run(Path root, boolean inProcess, List<String> corpus) throws Exception {
        Files.createDirectories(root);
        Path sock = root.resolve("switch.sock");
        List<String> received = Collections.synchronizedList(new ArrayList<>());
        Function<String, CompletableFuture<String>> backend = goldenBackend(received);
        AtomicInteger overSwitch = new AtomicInteger();
        AtomicInteger direct = new AtomicInteger();
        try (EmbeddedSwitch sw = EmbeddedSwitch.start(Optional.of(sock), Optional.empty(), root.resolve("switch"))) {
            SwitchAddress address = SwitchAddress.unix(sock);
            DaemonConfig config = ConfigLoader.load(new String[] {"--mode=host", "--switch-path=" + sock,
                    "--state-dir=" + root.resolve("state"), "--run-dir=" + root.resolve("run"), "--smapiv1=false",
                    "--smapiv3=false", "--queue-prefix=" + PREFIX, "--mux-in-process=" + inProcess,
                    "--discovery-interval=200ms"});
            DaemonRuntime runtime = DaemonRuntime.start(config, SdNotify.fromEnvironment(Map.of()));
            // the backend serves its queue on the switch (where the mux sees it live) and, as an in-JVM backend
            // does, registers the same handler for in-process callers
            try (SwitchQueueServer server = SwitchQueueServer.start(address, PREFIX + ".golden", 64, r -> {
                overSwitch.incrementAndGet();
                return backend.apply(r);
            });
                 InProcessQueues.Registration reg = runtime.inProcessQueues().register(PREFIX + ".golden", 64,
                         r -> {
                             direct.incrementAndGet();
                             return backend.apply(r);
                         });
                 SwitchRpcClient client = SwitchRpcClient.connect(address, "fastpath-it")) {
                Duration t = Soon.timeout();
                String register = "{\"method\":\"Registry.register\",\"params\":[{\"dbg\":\"it\","
                        + "\"sr\":\"" + SR + "\",\"sr_type\":\"golden\"}],\"id\":1}";
                // the mux learns the new queue is live from its next switch listing; wait for that first, so that
                // both runs send the mux the same calls (the ids of the calls the mux makes itself count them)
                Soon.await("the mux sees the golden backend live", () -> client.call(PREFIX,
                        "{\"method\":\"Registry.types\",\"params\":[{\"dbg\":\"it\"}],\"id\":1}", t)
                        .contains("\"golden\""));
                String registered = client.call(PREFIX, register, t);
                assertTrue(registered.contains("\"error\":null"), registered);
                // registration asked the backend (Query.query): count only the corpus
                received.clear();
                overSwitch.set(0);
                direct.set(0);
                List<String> replies = new ArrayList<>();
                for (String request : corpus) {
                    replies.add(client.call(PREFIX, request, t));
                    String method = Json.parse(request).get("method").textValue();
                    if (method.equals("SR.detach") || method.equals("SR.destroy")) {
                        // the mux drops the binding with the SR: bind it again for the rest of the corpus
                        String again = client.call(PREFIX, register, t);
                        assertTrue(again.contains("\"error\":null"), again);
                    }
                }
                return new Run(List.copyOf(received), replies, overSwitch.get(), direct.get());
            } finally {
                runtime.shutdown();
            }
        }
    }
}
