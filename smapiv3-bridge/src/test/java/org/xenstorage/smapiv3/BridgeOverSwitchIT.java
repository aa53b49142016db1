package org.xenstorage.smapiv3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.rpc.StorageClient;
import org.xenstorage.idl.types.QueryResult;
import org.xenstorage.idl.types.SrInfo;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.messageswitch.broker.EmbeddedSwitch;
import org.xenstorage.messageswitch.client.SwitchAddress;
import org.xenstorage.messageswitch.client.SwitchRpcClient;
import org.xenstorage.testing.Soon;

/** The bridge serving the example plugins over the real embedded message-switch, and plugin churn. */
class BridgeOverSwitchIT {
    private static final String PREFIX = "org.xenstorage.test.storage";
    private static final Duration CALL = Soon.timeout();

    @TempDir
    Path tmp;
    PluginRoot root;
    EmbeddedSwitch sw;
    SwitchAddress address;
    SwitchRpcClient client;
    Smapiv3Bridge bridge;

    @BeforeEach
    void start() throws Exception {
        root = new PluginRoot(tmp);
        root.copyExamples();
        Path sock = tmp.resolve("switch.sock");
        sw = EmbeddedSwitch.start(Optional.of(sock), Optional.empty(), tmp.resolve("switch-state"));
        address = SwitchAddress.unix(sock);
        bridge = Smapiv3Bridge.start(root.config().withQueuePrefix(PREFIX), address, root.environment());
        client = SwitchRpcClient.connect(address, "bridge-it");
    }

    @AfterEach
    void stop() {
        client.close();
        bridge.close();
        sw.close();
    }

    private StorageService remote(String plugin) {
        return StorageClient.of(text -> client.callAsync(PREFIX + "." + plugin, text, CALL));
    }

    private Set<String> liveQueues() throws Exception {
        return new TreeSet<>(Soon.get(client.list(PREFIX + ".", true)));
    }

    /** The contract is 2 s; the wait is Soon's, so a busy machine is not taken for a broken contract. */
    private void awaitQueues(Set<String> plugins) throws Exception {
        Set<String> want = new TreeSet<>();
        plugins.forEach(p -> want.add(PREFIX + "." + p));
        // the last sets seen are the failure's cause
        Soon.await("queues " + want + " alive on the switch and served by the bridge", () -> {
            Set<String> live = liveQueues();
            if (!live.equals(want) || !bridge.queues().equals(want)) {
                throw new IllegalStateException("alive " + live + ", served " + bridge.queues());
            }
            return true;
        });
    }

    /** Waits until a traffic call has succeeded since {@code before} (or one has failed: reported at the end). */
    private static void awaitTraffic(AtomicInteger good, int before, List<Throwable> failures)
            throws InterruptedException {
        Soon.await("a call on the stable queue during this step of the churn",
                () -> good.get() > before || !failures.isEmpty());
    }

    @Test
    void servesTheExamplePluginsUnderTheConfiguredPrefix() throws Exception {
        awaitQueues(Set.of("simplefile"));
        StorageService s = remote("simplefile");
        QueryResult q = s.query().query("it");
        assertEquals("simplefile", q.driver());
        String srPath = tmp.resolve("sr").toString();
        Map<String, String> config = s.sr().create("it", "sr-it", "name", "desc", Map.of("path", srPath), 0);
        s.sr().attach("it", "sr-it", config);
        VdiInfo created = s.vdi().create("it", "sr-it", VdiInfo.defaults("x", "disk").withSizes(4096, 0));
        assertEquals(4096, created.virtualSize());
        assertEquals(List.of(created.vdi()), s.sr().scan2("it", "sr-it").vdis().stream().map(VdiInfo::vdi).toList());
        SrInfo info = s.sr().stat("it", "sr-it");
        assertEquals("name", info.nameLabel());
        StorageException e = assertThrows(StorageException.class, () -> s.sr().stat("it", "not-attached"));
        assertEquals(new StorageError.SrNotAttached("not-attached"), e.error());
        // an unimplemented call answers with an error naming it, and the queue keeps serving
        StorageException u = assertThrows(StorageException.class,
                () -> s.vdi().attach2("it", "dp", "sr-it", created.vdi(), true));
        assertEquals(new StorageError.Unimplemented("VDI.attach2"), u.error());
        StorageException t = assertThrows(StorageException.class, () -> s.task().list("it"));
        assertTrue(t.error() instanceof StorageError.Unimplemented);
        assertEquals("name", s.sr().stat("it", "sr-it").nameLabel());
    }

    @Test
    void servedQueuesFollowPluginDirectoryChurnWhileCallsRun() throws Exception {
        awaitQueues(Set.of("simplefile"));
        AtomicBoolean churning = new AtomicBoolean(true);
        AtomicInteger good = new AtomicInteger();
        List<Throwable> failures = java.util.Collections.synchronizedList(new ArrayList<>());
        StorageService stable = remote("simplefile");
        CompletableFuture<Void> traffic = CompletableFuture.runAsync(() -> {
            while (churning.get()) {
                try {
                    stable.query().diagnostics("churn");
                    good.incrementAndGet();
                } catch (RuntimeException e) {
                    failures.add(e);
                }
            }
        });

        // each step ends only once a call on the stable queue has succeeded since it began: however slow the
        // machine, calls overlap every step (they could all have fallen before or after the churn)
        int before = good.get();
        Path a = root.volume.resolve("org.xen.xapi.storage.alpha");
        PluginRoot.fakePrinting(a, "Plugin.diagnostics", "\"alpha\"");
        Path b = root.volume.resolve("beta");
        PluginRoot.fakePrinting(b, "Plugin.diagnostics", "\"beta\"");
        awaitQueues(Set.of("simplefile", "alpha", "beta"));
        assertEquals("alpha", remote("alpha").query().diagnostics("d"));
        assertEquals("beta", remote("beta").query().diagnostics("d"));
        awaitTraffic(good, before, failures);

        before = good.get();
        Files.move(b, root.volume.resolve("org.xen.xapi.storage.gamma"));
        awaitQueues(Set.of("simplefile", "alpha", "gamma"));
        assertEquals("beta", remote("gamma").query().diagnostics("d"));
        awaitTraffic(good, before, failures);

        before = good.get();
        PluginRoot.deleteTree(a);
        Files.createDirectory(root.volume.resolve("bad..name"));
        Files.writeString(root.volume.resolve("plain-file"), "not a plugin");
        awaitQueues(Set.of("simplefile", "gamma"));
        awaitTraffic(good, before, failures);

        churning.set(false);
        Soon.get(traffic);
        assertEquals(List.of(), failures);
        assertTrue(good.get() > 0, "calls ran during the churn");
    }

    @Test
    void startsServingOnceASwitchThatWasDownComesUp() throws Exception {
        Path later = tmp.resolve("later.sock");
        PluginRoot other = new PluginRoot(tmp.resolve("other"));
        PluginRoot.fakePrinting(other.volume.resolve("late"), "Plugin.diagnostics", "\"late\"");
        try (Smapiv3Bridge b = Smapiv3Bridge.start(other.config().withQueuePrefix(PREFIX), SwitchAddress.unix(later),
                other.environment())) {
            assertEquals(Set.of("late"), b.plugins(), "served in-process even without a switch");
            try (EmbeddedSwitch up = EmbeddedSwitch.start(Optional.of(later), Optional.empty(), tmp.resolve("later-state"));
                 SwitchRpcClient c = SwitchRpcClient.connect(SwitchAddress.unix(later), "late-client")) {
                Soon.await("the bridge retried serving its queue",
                        () -> Soon.get(c.list(PREFIX + ".late", true)).contains(PREFIX + ".late"));
                String reply = c.call(PREFIX + ".late", org.xenstorage.idl.rpc.JsonRpc.request("Query.diagnostics",
                        V2.params("dbg", "d")), Soon.timeout());
                assertEquals("late", V2.json(reply).get("result").asText());
            }
        }
    }

    /**
     * A plugin whose queue could not be started (the switch not answering yet) is served as soon as it can be
     * when the owner waits for it (the daemon does before it says it is ready), not at the next 5 s retry.
     */
    @Test
    void awaitServedRetriesAQueueWhoseFirstStartFailed() throws Exception {
        Path later = tmp.resolve("later.sock");
        SwitchAddress notYet = SwitchAddress.unix(later);
        Smapiv3Bridge early = Smapiv3Bridge.start(root.config().withQueuePrefix(PREFIX + ".early"), notYet,
                root.environment());
        EmbeddedSwitch second = null;
        try {
            assertEquals(Set.of("simplefile"), early.awaitServed(Duration.ofMillis(200)), "nothing to serve on yet");
            second = EmbeddedSwitch.start(Optional.of(later), Optional.empty(), tmp.resolve("later-state"));
            assertEquals(Set.of(), early.awaitServed(Soon.timeout()));
            try (SwitchRpcClient c = SwitchRpcClient.connect(notYet, "early-it")) {
                // the queue exists on return (a call finds it, no NO_SUCH_QUEUE): no wait for the periodic retry;
                // not "alive", which only the server's first poll reaching the switch makes true
                assertEquals(List.of(PREFIX + ".early.simplefile"), Soon.get(c.list(PREFIX + ".early.", false)));
            }
        } finally {
            early.close();
            if (second != null) {
                second.close();
            }
        }
    }
}
