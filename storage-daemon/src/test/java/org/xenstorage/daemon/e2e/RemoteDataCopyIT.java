package org.xenstorage.daemon.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.types.AsyncResult;
import org.xenstorage.idl.types.TaskInfo;
import org.xenstorage.idl.types.TaskState;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.testing.DebianTools;
import org.xenstorage.testing.DebianTools.Tool;
import org.xenstorage.testing.Soon;

/**
 * DATA.copy between two real daemons ({@link DaemonPair}): A's localfile SR to B's, through B's remote endpoint
 * (SMAPIv2 over HTTPS, the bytes by nbdcopy through a TLS NBD tunnel to a qemu-nbd behind B's endpoint). The call
 * is made on A (through A's own endpoint, as any SMAPIv2 client could, or with smctl on A's switch) with B's url.
 */
class RemoteDataCopyIT {
    static final long SIZE = 64L << 20;

    @TempDir
    static Path dir;
    static DaemonPair pair;
    static StorageService a;
    static StorageService b;
    static final String SR_A = "sr-a-" + UUID.randomUUID();
    static final String SR_B = "sr-b-" + UUID.randomUUID();
    static Path srDirA;
    static Path srDirB;

    @BeforeAll
    static void start() throws Exception {
        DebianTools.requireAll(Tool.NBDCOPY, Tool.QEMU_NBD);
        pair = DaemonPair.start(dir, List.of(), true); // B over HTTPS, its certificate in A's remote-ca-bundle
        a = pair.a.storage();
        b = pair.b.storage();
        srDirA = dir.resolve("a-sr");
        srDirB = dir.resolve("b-sr");
        pair.a.addLocalfileSr(SR_A, srDirA);
        pair.b.addLocalfileSr(SR_B, srDirB);
    }

    @AfterAll
    static void stop() throws Exception {
        if (pair != null) {
            pair.close();
        }
    }

    /** A detached VDI on A's SR, its file filled by {@code fill}; returns its record. */
    static VdiInfo sourceVdi(String name, long size, FileFiller fill) throws Exception {
        VdiInfo v = a.vdi().create("it", SR_A, VdiInfo.defaults("", name).withSizes(size, 0));
        Path file = srDirA.resolve(v.vdi() + ".img");
        assertTrue(Files.isRegularFile(file), "the localfile driver keeps a VDI in <sr>/<vdi>.img: " + file);
        fill.fill(file);
        return v;
    }

    interface FileFiller {
        void fill(Path file) throws IOException;
    }

    static void write(Path file, long at, byte[] bytes) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ByteBuffer buf = ByteBuffer.wrap(bytes);
            while (buf.hasRemaining()) {
                ch.write(buf, at + buf.position());
            }
        }
    }

    static byte[] random(int len, long seed) {
        byte[] b = new byte[len];
        new Random(seed).nextBytes(b);
        b[0] = 1;
        return b;
    }

    static String sha256(Path file) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (var in = Files.newInputStream(file)) {
            byte[] chunk = new byte[1 << 20];
            for (int n; (n = in.read(chunk)) > 0; ) {
                md.update(chunk, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /** Bytes allocated to {@code file} on disk ({@code stat %b * %B}). */
    static long allocated(Path file) throws Exception {
        Process p = new ProcessBuilder("stat", "-c", "%b %B", file.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).strip();
        assertEquals(0, Soon.exitOf(p), out);
        String[] f = out.split(" ");
        return Long.parseLong(f[0]) * Long.parseLong(f[1]);
    }

    /** Follows a task on A until it is no longer Pending. */
    static TaskInfo awaitEnd(String task) throws InterruptedException {
        AtomicReference<TaskInfo> last = new AtomicReference<>();
        Soon.await("task " + task + " ends", Soon.times(2), () -> {
            last.set(a.task().stat("it", task));
            return !(last.get().state() instanceof TaskState.Pending);
        });
        return last.get();
    }

    static Set<String> vdisOn(StorageService s, String sr) {
        return s.sr().scan2("it", sr).vdis().stream().map(VdiInfo::vdi).collect(Collectors.toSet());
    }

    /** Nothing of a copy left on either side: no datapath, no nbdcopy, no qemu-nbd. */
    static void assertNothingAttached(String sourceVdi, Set<String> destVdis) throws Exception {
        assertEquals(Map.of(), a.dp().statVdi("it", SR_A, sourceVdi).dps(), "source datapaths on A");
        for (String v : destVdis) {
            assertEquals(Map.of(), b.dp().statVdi("it", SR_B, v).dps(), "datapaths of " + v + " on B");
        }
        assertFalse(a.dp().diagnostics().contains("copy-"), a.dp().diagnostics());
        assertFalse(b.dp().diagnostics().contains("copy-"), b.dp().diagnostics());
        Soon.await("no nbdcopy of A and no qemu-nbd of B's endpoint left", () ->
                pair.a.childrenNaming("nbdcopy").isEmpty() && pair.b.qemuNbds().isEmpty());
        assertEquals(List.of(), listing(pair.a.state.resolve("copy")), "no tunnel socket left on A");
    }

    static List<Path> listing(Path d) throws IOException {
        try (var s = Files.list(d)) {
            return s.toList();
        }
    }

    @Test
    void aVdiWithHolesArrivesWholeOnTheOtherHostAndItsHolesStayHoles() throws Exception {
        String cid = "cid-" + UUID.randomUUID();
        VdiInfo src = sourceVdi("holes", SIZE, f -> {
            write(f, 0, random(1 << 20, 1));                     // data, then a hole
            write(f, 10L << 20, random(4 << 20, 2));             // data in the middle
            write(f, 20L << 20, new byte[1 << 20]);              // explicit zeros: allocated on A, not to be sent
            write(f, SIZE - (64 << 10), random(64 << 10, 3));    // the last 64 KiB
        });
        a.vdi().setContentId("it", SR_A, src.vdi(), cid);
        Path srcFile = srDirA.resolve(src.vdi() + ".img");
        Set<String> before = vdisOn(b, SR_B);

        // verify_dest: B's certificate checked against A's remote-ca-bundle
        String task = a.data().copy("it", SR_A, src.vdi(), "0", pair.b.urlText(), SR_B, true);
        TaskInfo done = awaitEnd(task);

        TaskState.Completed c = assertInstanceOf(TaskState.Completed.class, done.state(), String.valueOf(done));
        VdiInfo snapshot = ((AsyncResult.VdiInfoResult) c.completion().result().orElseThrow()).value();
        assertEquals(cid, snapshot.contentId(), "the snapshot on B carries the source's content id");
        assertEquals(SIZE, snapshot.virtualSize());
        Set<String> after = vdisOn(b, SR_B);
        assertEquals(union(before, Set.of(snapshot.vdi())), after, "only the snapshot is left on B");
        assertEquals(cid, b.vdi().stat("it", SR_B, snapshot.vdi()).contentId());
        Path copy = srDirB.resolve(snapshot.vdi() + ".img");
        assertEquals(sha256(srcFile), sha256(copy), "bytes equal");
        long data = (1 << 20) + (4 << 20) + (64 << 10);
        assertTrue(allocated(copy) <= data + (1 << 20), "holes and the zero run stay unallocated on B: "
                + allocated(copy) + " bytes allocated for " + data + " bytes of data");
        assertTrue(allocated(copy) < allocated(srcFile), "B holds less than A, whose zero run is allocated");
        assertEquals(cid, a.vdi().stat("it", SR_A, src.vdi()).contentId(), "the source keeps its content id");
        assertNothingAttached(src.vdi(), after);
        assertFalse(pair.a.process.output().contains(pair.b.token), "B's token never appears in A's log");
        a.task().destroy("it", task);
    }

    static Set<String> union(Set<String> x, Set<String> y) {
        Set<String> u = new java.util.HashSet<>(x);
        u.addAll(y);
        return u;
    }

    /** A fully written VDI (nbdcopy sends every byte): big enough for a copy to be caught running. */
    static VdiInfo bigSourceVdi(String name) throws Exception {
        long size = 1L << 30;
        return sourceVdi(name, size, f -> {
            byte[] block = random(4 << 20, 4);
            try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
                for (long at = 0; at < size; at += block.length) {
                    r.seek(at);
                    r.write(block);
                }
            }
        });
    }

    @Test
    void cancelMidCopyFailsCancelledAndLeavesNoVdiOnTheOtherHost() throws Exception {
        VdiInfo src = bigSourceVdi("big");
        Set<String> before = vdisOn(b, SR_B);

        String task = a.data().copy("it", SR_A, src.vdi(), "0", pair.b.urlText(), SR_B, false);
        Soon.await("nbdcopy runs for the copy", () -> !pair.a.childrenNaming("nbdcopy").isEmpty()
                || !(a.task().stat("it", task).state() instanceof TaskState.Pending));
        a.task().cancel("it", task);
        TaskInfo done = awaitEnd(task);

        TaskState.Failed f = assertInstanceOf(TaskState.Failed.class, done.state(), String.valueOf(done));
        assertEquals("Cancelled", f.error().get(0).asText(), f.error().toString());
        assertEquals(before, vdisOn(b, SR_B), "no VDI left on B");
        assertNothingAttached(src.vdi(), before);
        a.task().destroy("it", task);
        a.vdi().destroy("it", SR_A, src.vdi());
    }

    @Test
    void aWrongTokenIsAClearErrorAndCreatesNothingOnTheOtherHost() throws Exception {
        VdiInfo src = sourceVdi("refused", 1 << 20, f -> write(f, 0, random(4096, 5)));
        Set<String> before = vdisOn(b, SR_B);
        String wrong = "wrong-" + UUID.randomUUID();

        String task = a.data().copy("it", SR_A, src.vdi(), "0", pair.b.urlWithToken(wrong), SR_B, false);
        TaskInfo done = awaitEnd(task);

        TaskState.Failed f = assertInstanceOf(TaskState.Failed.class, done.state(), String.valueOf(done));
        String error = f.error().toString();
        assertTrue(error.contains("Internal_error") && error.contains("refused the token (HTTP 403)"), error);
        assertFalse(error.contains(wrong), "the token is not echoed: " + error);
        assertEquals(before, vdisOn(b, SR_B), "nothing created on B");
        assertNothingAttached(src.vdi(), before);
        assertFalse(pair.a.process.output().contains(wrong), "the wrong token is not logged on A");
        a.task().destroy("it", task);
    }

    /** smctl on A's switch, in this JVM: exit status, stdout, stderr. */
    static String[] smctl(String... args) {
        List<String> all = new java.util.ArrayList<>(List.of("--switch-path",
                pair.a.state.resolve("message-switch.sock").toString(), "--progress", "none"));
        all.addAll(List.of(args));
        org.xenstorage.daemon.smctl.SmctlRun r = org.xenstorage.daemon.smctl.SmctlRun.run(all.toArray(String[]::new));
        return new String[] {String.valueOf(r.status()), r.out(), r.err()};
    }

    /**
     * A second copy of a changed VDI finds the snapshot the first one left on B (same content id, no larger), clones
     * it and writes over the clone, zeros included (a region zeroed since the first copy must read as zeros); sent
     * with {@code smctl vdi-copy --url}.
     */
    @Test
    void aSecondCopyIsIncrementalOntoTheFirstSnapshotAndSmctlSendsTheUrl() throws Exception {
        String cid = "cid-" + UUID.randomUUID();
        VdiInfo src = sourceVdi("incremental", 16 << 20, f -> write(f, 0, random(8 << 20, 6)));
        a.vdi().setContentId("it", SR_A, src.vdi(), cid);
        Path srcFile = srDirA.resolve(src.vdi() + ".img");
        String first = a.data().copy("it", SR_A, src.vdi(), "0", pair.b.urlText(), SR_B, false);
        TaskInfo firstDone = awaitEnd(first);
        VdiInfo firstSnapshot = ((AsyncResult.VdiInfoResult) assertInstanceOf(TaskState.Completed.class,
                firstDone.state(), String.valueOf(firstDone)).completion().result().orElseThrow()).value();
        a.task().destroy("it", first);
        write(srcFile, 1 << 20, new byte[2 << 20]);            // data turned to zeros
        write(srcFile, 12L << 20, random(1 << 20, 7));         // a hole turned to data
        Set<String> before = vdisOn(b, SR_B);

        String[] run = smctl("--json", "vdi-copy", "--sr", SR_A, "--vdi", src.vdi(), "--dest", SR_B, "--url",
                pair.b.urlText());

        assertEquals("0", run[0], "smctl vdi-copy --url: " + run[1] + run[2]);
        TaskInfo info = org.xenstorage.idl.wire.WireCodec.fromJson(run[1].strip(), TaskInfo.class);
        VdiInfo snapshot = ((AsyncResult.VdiInfoResult) ((TaskState.Completed) info.state()).completion().result()
                .orElseThrow()).value();
        assertEquals(cid, snapshot.contentId());
        assertEquals(sha256(srcFile), sha256(srDirB.resolve(snapshot.vdi() + ".img")), "bytes equal after the "
                + "incremental copy");
        assertTrue(pair.a.process.output().contains("incremental onto clone"), "the copy was made onto a clone of "
                + firstSnapshot.vdi());
        assertEquals(union(before, Set.of(snapshot.vdi())), vdisOn(b, SR_B), "only the new snapshot is added on B");
        assertFalse((run[1] + run[2]).contains(pair.b.token), "smctl does not print the token");
        assertNothingAttached(src.vdi(), vdisOn(b, SR_B));
    }

    /**
     * kill -9 of A mid-copy: its copy record (url and token included, in a 0600 file) lets the restarted A tear
     * down both sides: B's datapath and the half-written VDI there, A's source datapath.
     */
    @Test
    void afterAKill9MidCopyTheRestartedDaemonReclaimsBothSides() throws Exception {
        VdiInfo src = bigSourceVdi("crash");
        Set<String> before = vdisOn(b, SR_B);
        String task = a.data().copy("it", SR_A, src.vdi(), "0", pair.b.urlText(), SR_B, false);
        Soon.await("nbdcopy runs for the copy", () -> !pair.a.childrenNaming("nbdcopy").isEmpty()
                || !(a.task().stat("it", task).state() instanceof TaskState.Pending));
        Path records = pair.a.state.resolve("mux").resolve("copies.json");
        assertTrue(Files.readString(records).contains(src.vdi()), "the copy is recorded");
        assertEquals(java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"),
                Files.getPosixFilePermissions(records), "the record holds B's token: private");
        assertTrue(vdisOn(b, SR_B).size() > before.size(), "the copy's VDI exists on B");

        pair.a.kill9AndRestart();

        Soon.await("the restarted A reclaimed B's side of the copy", () -> vdisOn(b, SR_B).equals(before)
                && !b.dp().diagnostics().contains("copy-") && pair.b.qemuNbds().isEmpty());
        Soon.await("A's copy record is gone", () -> !Files.readString(records).contains(src.vdi()));
        assertNothingAttached(src.vdi(), before);
        a.vdi().destroy("it", SR_A, src.vdi());
    }
}
