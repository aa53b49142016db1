package org.xenstorage.migrate.mirror;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.idl.api.DataApi;
import org.xenstorage.idl.api.DataMirrorApi;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.MirrorOperation;
import org.xenstorage.idl.types.MirrorReceiveResult;
import org.xenstorage.idl.types.MirrorStatus;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.migrate.remote.NbdTunnel;
import org.xenstorage.migrate.remote.RemoteDaemons;
import org.xenstorage.migrate.remote.RemoteNbdPath;
import org.xenstorage.migrate.remote.RemoteTls;
import org.xenstorage.migrate.remote.RemoteUrl;
import org.xenstorage.migrate.task.TaskContext;
import org.xenstorage.migrate.testsr.FileSrDouble;
import org.xenstorage.testing.Soon;

/**
 * The sender's state transitions against TEST DOUBLES (pure logic): the SR is {@link FileSrDouble}, the plugin's
 * {@code DATA.mirror}/{@code DATA.stat} answer a script of statuses, the destination daemon records the receive
 * calls it gets. The tunnel is a real {@link NbdTunnel} (a local socket that nothing connects through here). The
 * same flows against real daemons and qemu-storage-daemon are in storage-daemon's {@code LiveMirrorIT}.
 */
class MirrorSenderTest {
    static final String URL = "http://127.0.0.1:9/services/SM?session_id=secret-token";

    @TempDir
    Path dir;
    FileSrDouble sr;
    String vdi;
    final ConcurrentLinkedQueue<Supplier<MirrorStatus>> statuses = new ConcurrentLinkedQueue<>();
    volatile Supplier<MirrorStatus> lastStatus = () -> progress(0.0);
    final List<String> mirrorCalls = new CopyOnWriteArrayList<>();
    final List<String> remoteCalls = new CopyOnWriteArrayList<>();
    final List<Path> tunnels = new CopyOnWriteArrayList<>();
    volatile StorageError mirrorError;
    MirrorRecords records;
    MirrorSender sender;

    static MirrorStatus progress(double p) {
        return new MirrorStatus(false, false, Optional.of(p));
    }

    static MirrorStatus complete() {
        return new MirrorStatus(false, true, Optional.of(1.0));
    }

    static MirrorStatus failed() {
        return new MirrorStatus(true, false, Optional.empty());
    }

    @BeforeEach
    void setUp() throws IOException {
        sr = new FileSrDouble(dir.resolve("srs"));
        sr.addSr("a");
        vdi = sr.service().vdi().create("t", "a", VdiInfo.defaults("", "disk").withSizes(1 << 20, 0)).vdi();
        DataApi plugin = new DataApi() {
            @Override
            public MirrorOperation mirror(String dbg, String s, String v, String imageFormat, String vm, String url) {
                mirrorCalls.add(s + "/" + v + " vm=" + vm + " url=" + url);
                if (mirrorError != null) {
                    throw new StorageException(mirrorError);
                }
                return new MirrorOperation.MirrorV1("mirror-1");
            }

            @Override
            public MirrorStatus stat(String dbg, String s, String v, String vm, MirrorOperation operation) {
                Supplier<MirrorStatus> next = statuses.poll();
                if (next != null) {
                    lastStatus = next;
                }
                return lastStatus.get();
            }
        };
        StorageService f = sr.service();
        StorageService local = new StorageService(null, f.dp(), f.sr(), f.vdi(), null, plugin, null, null, null, null);
        DataMirrorApi remote = new DataMirrorApi() {
            @Override
            public void receiveCancel2(String dbg, String id, String url, boolean verifyDest) {
                remoteCalls.add("receive_cancel2 " + id);
            }

            @Override
            public void receiveFinalize3(String dbg, String id, String s, String url, boolean verifyDest) {
                remoteCalls.add("receive_finalize3 " + id + " " + s);
            }
        };
        RemoteDaemons remotes = new RemoteDaemons() {
            @Override
            public StorageService storage(String url, boolean verifyDest) {
                assertEquals(URL, url);
                return StorageService.of(remote);
            }

            @Override
            public NbdTunnel tunnel(String url, boolean verifyDest, RemoteNbdPath target) throws IOException {
                assertEquals(RemoteNbdPath.nbdProxyImport("vm1", "b", "leaf", "leaf-dp"), target);
                NbdTunnel t = NbdTunnel.open(RemoteUrl.parse(url), RemoteTls.systemTrust(), target, dir);
                tunnels.add(t.socket());
                return t;
            }
        };
        records = MirrorRecords.persistedAt(dir.resolve("mirrors.json"));
        sender = new MirrorSender(local, records, remotes, new MirrorSender.Options(Duration.ofMillis(1),
                Duration.ofSeconds(Soon.seconds())));
    }

    @AfterEach
    void noTunnelLeft() {
        for (Path socket : tunnels) {
            assertFalse(Files.exists(socket), "tunnel socket " + socket + " removed");
        }
    }

    MirrorSender.Request request() {
        return request(new MirrorReceiveResult.Smapiv3Mirror(new MirrorReceiveResult.Smapiv3(
                VdiInfo.defaults("leaf", "disk"), "leaf-dp", "exp")));
    }

    MirrorSender.Request request(MirrorReceiveResult recv) {
        return new MirrorSender.Request("t", "mirror-dp", true, "a", vdi, "raw", "vm1", "guest", "", URL, recv, "b",
                false);
    }

    String id() {
        return MirrorId.of("a", vdi);
    }

    /** A task context recording progress; {@link #cancel} runs the callbacks as TASK.cancel does. */
    static final class Ctx implements TaskContext {
        final List<Double> progress = new CopyOnWriteArrayList<>();
        final List<Runnable> callbacks = new CopyOnWriteArrayList<>();
        volatile boolean cancelled;

        @Override
        public String taskId() {
            return "7";
        }

        @Override
        public void progress(double fraction) {
            progress.add(fraction);
        }

        @Override
        public boolean cancelRequested() {
            return cancelled;
        }

        @Override
        public void checkCancelled() {
            if (cancelled) {
                throw new StorageException(new StorageError.Cancelled("7"));
            }
        }

        @Override
        public CancelRegistration onCancel(Runnable callback) {
            callbacks.add(callback);
            return () -> callbacks.remove(callback);
        }

        void cancel() {
            cancelled = true;
            callbacks.forEach(Runnable::run);
        }
    }

    void assertTornDown() {
        assertEquals(Optional.empty(), sender.send(id()));
        assertEquals(List.of(), records.sends());
        assertEquals(Set.of(), sr.holders("a", vdi), "the datapath the sender attached is destroyed");
    }

    @Test
    void aMirrorIsReadyWhenThePluginSaysCompleteAndIsFinalizedAfterDeactivate() {
        statuses.addAll(List.of(() -> progress(0.2), () -> progress(0.6), MirrorSenderTest::complete));
        Ctx ctx = new Ctx();
        sender.sendStart(request(), ctx);

        assertEquals(List.of(0.2, 0.6, 1.0), ctx.progress);
        assertEquals(1, mirrorCalls.size());
        assertEquals("a/" + vdi + " vm=guest url=nbd+unix:///exp?socket=" + tunnels.get(0), mirrorCalls.get(0),
                "the plugin mirrors for the guest's domain into the tunnel");
        assertEquals(Set.of("mirror-dp"), sr.holders("a", vdi), "the source attached again on the mirror's datapath");
        SendRecord r = sender.send(id()).orElseThrow();
        assertEquals(Optional.of("mirror-1"), r.operation());
        assertEquals(List.of(r), records.sends(), "persisted with its operation");
        assertFalse(sender.hasMirrorFailed("t", id()));
        sender.preDeactivateHook("t", "a", vdi);

        sender.postDeactivate("t", "a", vdi);
        assertEquals(List.of("receive_finalize3 " + id() + " b"), remoteCalls);
        assertTornDown();
    }

    @Test
    void aFailureWhileSyncingTearsEverythingDownAndCancelsTheReceive() {
        statuses.addAll(List.of(() -> progress(0.3), MirrorSenderTest::failed));
        StorageException e = assertThrows(StorageException.class, () -> sender.sendStart(request(), new Ctx()));
        assertInstanceOf(StorageError.MigrationMirrorFailure.class, e.error());
        assertEquals(List.of("receive_cancel2 " + id()), remoteCalls);
        assertTornDown();
    }

    @Test
    void aBackendThatCannotMirrorIsUnimplementedNamingWhy() {
        mirrorError = new StorageError.Unimplemented("DATA.mirror");
        StorageError.Unimplemented u = assertInstanceOf(StorageError.Unimplemented.class, assertThrows(
                StorageException.class, () -> sender.sendStart(request(), new Ctx())).error());
        assertTrue(u.what().contains("SMAPIv1") && u.what().contains("tapdisk") && u.what().contains("qdisk"),
                u.what());
        assertEquals(List.of("receive_cancel2 " + id()), remoteCalls);
        assertTornDown();
    }

    @Test
    void aVhdReceiveIsRefusedBeforeAnythingIsMade() {
        MirrorReceiveResult vhd = new MirrorReceiveResult.VhdMirror(new MirrorReceiveResult.Vhd(
                VdiInfo.defaults("leaf", "d"), "dp", Optional.empty(), "x", "y"));
        assertInstanceOf(StorageError.MigrationPreparationFailure.class, assertThrows(StorageException.class,
                () -> sender.sendStart(request(vhd), new Ctx())).error());
        assertEquals(List.of(), mirrorCalls);
        assertTornDown();
    }

    @Test
    void stopWhileWaitingEndsTheSendOnceAndCancelsTheReceive() throws Exception {
        AtomicReference<Throwable> outcome = new AtomicReference<>();
        Thread t = new Thread(() -> {
            try {
                sender.sendStart(request(), new Ctx());
                outcome.set(new AssertionError("returned"));
            } catch (Throwable e) {
                outcome.set(e);
            }
        });
        t.start();
        Soon.await("the mirror runs", () -> sender.send(id()).flatMap(SendRecord::operation).isPresent());
        assertEquals(new StorageError.DoesNotExist("mirror", "a/none"), assertThrows(StorageException.class,
                () -> sender.stop("t", "a/none")).error());
        sender.stop("t", id());
        t.join(Soon.millis());
        StorageException e = assertInstanceOf(StorageException.class, outcome.get());
        assertInstanceOf(StorageError.MigrationMirrorFailure.class, e.error());
        assertEquals(List.of("receive_cancel2 " + id()), remoteCalls, "torn down once");
        assertTornDown();
        assertEquals(new StorageError.DoesNotExist("mirror", id()), assertThrows(StorageException.class,
                () -> sender.stop("t", id())).error());
    }

    @Test
    void cancellingTheTaskEndsTheSendAsCancelled() throws Exception {
        Ctx ctx = new Ctx();
        AtomicReference<Throwable> outcome = new AtomicReference<>();
        Thread t = new Thread(() -> {
            try {
                sender.sendStart(request(), ctx);
            } catch (Throwable e) {
                outcome.set(e);
            }
        });
        t.start();
        Soon.await("the mirror runs", () -> sender.send(id()).flatMap(SendRecord::operation).isPresent());
        ctx.cancel();
        t.join(Soon.millis());
        assertEquals(new StorageError.Cancelled("7"), assertInstanceOf(StorageException.class, outcome.get()).error());
        assertEquals(List.of("receive_cancel2 " + id()), remoteCalls);
        assertTornDown();
    }

    @Test
    void aFailureSeenOnceIsKeptAndThePreDeactivateHookRefuses() {
        statuses.add(MirrorSenderTest::complete);
        sender.sendStart(request(), new Ctx());
        statuses.add(() -> {
            throw StorageException.internal("the plugin is busy");
        });
        assertFalse(sender.hasMirrorFailed("t", id()), "a stat that cannot be made answers the last known state");
        statuses.add(MirrorSenderTest::failed);
        assertTrue(sender.hasMirrorFailed("t", id()));
        assertTrue(sender.hasMirrorFailed("t", id()), "kept");
        assertTrue(sender.send(id()).orElseThrow().failed());
        assertInstanceOf(StorageError.MigrationMirrorFailure.class, assertThrows(StorageException.class,
                () -> sender.preDeactivateHook("t", "a", vdi)).error());
        sender.postDeactivate("t", "a", vdi);
        assertEquals(List.of(), remoteCalls, "a failed mirror is not finalized");
        sender.stop("t", id());
        assertEquals(List.of("receive_cancel2 " + id()), remoteCalls);
        assertTornDown();
    }

    @Test
    void theHooksIgnoreAVdiThatIsNotSent() {
        sender.preDeactivateHook("t", "a", vdi);
        sender.postDeactivate("t", "a", vdi);
        assertFalse(sender.hasMirrorFailed("t", id()));
        assertEquals(List.of(), remoteCalls);
    }

    @Test
    void aSendLeftByACrashedRunIsReclaimed() throws Exception {
        statuses.add(MirrorSenderTest::complete);
        sender.sendStart(request(), new Ctx());
        Path tunnelDir = tunnels.get(0).getParent();
        // the process dies: its tunnel closes with it, the record stays
        MirrorRecords next = MirrorRecords.persistedAt(dir.resolve("mirrors.json"));
        SendRecord stale = next.staleSends().get(0);
        assertEquals(tunnelDir.toString(), stale.tunnelDir());
        List<String> attached = new ArrayList<>(sr.holders("a", vdi));
        assertEquals(List.of("mirror-dp"), attached);
        sender.stop("t", id()); // (this run's own clean-up, so the test leaves nothing; the stale copy remains)
        remoteCalls.clear();
        sr.service().vdi().attach3("t", "mirror-dp", "a", vdi, "0", true);
        Files.createDirectories(tunnelDir);
        MirrorSender restarted = new MirrorSender(sr.service(), next,
                new RemoteDaemons() {
                    @Override
                    public StorageService storage(String url, boolean verifyDest) {
                        return StorageService.of(new DataMirrorApi() {
                            @Override
                            public void receiveCancel2(String dbg, String id, String u, boolean v) {
                                remoteCalls.add("receive_cancel2 " + id);
                            }
                        });
                    }

                    @Override
                    public NbdTunnel tunnel(String url, boolean verifyDest, RemoteNbdPath target) {
                        throw new AssertionError("no tunnel at reclaim");
                    }
                }, MirrorSender.Options.defaults());
        assertEquals(1, restarted.reclaim("t"));
        assertEquals(List.of("receive_cancel2 " + id()), remoteCalls);
        assertEquals(Set.of(), sr.holders("a", vdi));
        assertFalse(Files.exists(tunnelDir));
        assertEquals(List.of(), MirrorRecords.persistedAt(dir.resolve("mirrors.json")).staleSends());
    }
}
