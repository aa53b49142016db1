package org.xenstorage.bench.migrate;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.xenstorage.bench.Harness;
import org.xenstorage.testing.DebianTools;
import org.xenstorage.testing.DebianTools.Tool;
import org.xenstorage.daemon.config.RemoteEndpointConfig;
import org.xenstorage.daemon.remote.RemoteEndpoint;
import org.xenstorage.idl.api.DpApi;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.rpc.StorageDispatcher;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.Implementation;
import org.xenstorage.idl.types.NbdInfo;
import org.xenstorage.migrate.remote.NbdTunnel;
import org.xenstorage.migrate.remote.RemoteNbdPath;
import org.xenstorage.migrate.remote.RemoteTls;
import org.xenstorage.migrate.remote.RemoteUrl;

/**
 * What the two Java relays of a remote DATA.copy cost: {@code nbdcopy} of a 1 GiB image (a) straight to a qemu-nbd
 * export on a Unix socket, against (b) the same nbdcopy to the same kind of export reached the way a remote copy
 * reaches it: the source's {@link NbdTunnel} (nbdcopy's Unix socket → HTTP upgrade → TCP on loopback) into the
 * destination's {@link RemoteEndpoint} (TCP → the datapath's NBD socket), both in this process, the endpoint in front
 * of a one-call service whose {@code DP.attach_info} names the qemu-nbd socket as the datapath's {@code Nbd} export.
 * Each timing exports a fresh sparse destination with qemu-nbd (as the endpoint's own {@code QemuNbd} runs it:
 * raw, discard=unmap), syncs, then times nbdcopy ({@code --flush --destination-is-zero}, as NbdCopy runs it) to its
 * end; the two paths take turns at going first; medians of the rounds, with the median of per-round ratios. A 1 MiB
 * copy, with next to nothing to move, measures what a connection through the relays costs (connect, HTTP upgrade,
 * {@code DP.attach_info}, the NBD handshake relayed). The target for a remote copy is {@code >= 0.9x} of
 * bare nbdcopy.
 *
 * <p>Usage: {@code NbdRelayBench [dir] [rounds]} (defaults: java.io.tmpdir, 5). Needs nbdcopy (libnbd-bin) and
 * qemu-nbd (qemu-utils). Peak disk use: about 2 GiB.
 */
public final class NbdRelayBench {
    private static final long GIB = 1L << 30;
    private static final int MIB = 1 << 20;
    private static final Path NBDCOPY = Path.of("/usr/bin/nbdcopy");
    private static final Path QEMU_NBD = Path.of("/usr/bin/qemu-nbd");
    private static final String TOKEN = "nbd-relay-bench-token-0123456789";

    private NbdRelayBench() {
    }

    public static void main(String[] args) throws Exception {
        DebianTools.requireAll(Tool.NBDCOPY, Tool.QEMU_NBD); // names the Debian package of a missing one
        Path parent = Path.of(args.length > 0 ? args[0] : System.getProperty("java.io.tmpdir"));
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        Path dir = Files.createTempDirectory(parent, "nbd-relay-bench");
        Path exportSocket = dir.resolve("q/nbd.sock");
        Files.createDirectories(exportSocket.getParent());
        String loadBefore = Harness.loadAverage();
        class Datapath implements DpApi {
            @Override
            public Backend attachInfo(String dbg, String sr, String vdi, String dp, String vm) {
                return new Backend(List.of(new Implementation.Nbd(new NbdInfo("nbd+unix:///?socket=" + exportSocket))));
            }
        }
        StorageDispatcher dispatcher = new StorageDispatcher(StorageService.of(new Datapath()));
        Path token = dir.resolve("token");
        Files.writeString(token, TOKEN + "\n");
        Files.setPosixFilePermissions(token, PosixFilePermissions.fromString("rw-------"));
        RemoteEndpoint endpoint = RemoteEndpoint.start(new RemoteEndpointConfig("127.0.0.1", 0, token,
                Optional.empty(), Optional.empty()), dispatcher::dispatch, dir.resolve("run"));
        RemoteUrl url = RemoteUrl.parse("http://127.0.0.1:" + endpoint.address().getPort()
                + "/services/SM?session_id=" + TOKEN);
        try (NbdTunnel tunnel = NbdTunnel.open(url, RemoteTls.unverified(),
                RemoteNbdPath.nbd("vm-0", "sr-b", "vdi-b", "dp-b"), dir)) {
            String viaRelays = tunnel.nbdUri();
            String bare = "nbd+unix:///?socket=" + exportSocket;
            List<String[]> rows = new ArrayList<>();
            List<String> verdicts = new ArrayList<>();
            Path full = dir.resolve("full.img");
            Harness.makeImage(full, GIB, 1);
            measure("fully written", full, dir, exportSocket, bare, viaRelays, rounds, rows, verdicts);
            Files.delete(full);
            Path sparse = dir.resolve("sparse.img");
            Harness.makeImage(sparse, GIB, 16);
            measure("mostly sparse (64 MiB data)", sparse, dir, exportSocket, bare, viaRelays, rounds, rows, verdicts);
            Files.delete(sparse);
            // next to nothing to move: what a connection through the relays costs whatever the size
            Path tiny = dir.resolve("tiny.img");
            Harness.makeImage(tiny, MIB, 1);
            measure("1 MiB (fixed cost per copy)", tiny, dir, exportSocket, bare, viaRelays, 2 * rounds + 1, rows,
                    null);
            Files.delete(tiny);

            System.out.println("### NBD relays of a remote DATA.copy: nbdcopy through NbdTunnel and RemoteEndpoint vs "
                    + "bare nbdcopy (1 GiB, and 1 MiB for the fixed cost, qemu-nbd export)");
            System.out.println();
            System.out.println("Machine: " + Harness.machine() + "; files under " + parent + "; median of " + rounds
                    + " rounds (" + (2 * rounds + 1) + " for 1 MiB), the paths taking turns at going first; tunnel and endpoint in one JVM on loopback"
                    + " (plain HTTP); load average before " + loadBefore + ", after " + Harness.loadAverage() + ".");
            System.out.println();
            System.out.println("| image | path | seconds | MiB/s | ratio to bare nbdcopy | median of per-round ratios |");
            System.out.println("|---|---|---:|---:|---:|---:|");
            rows.forEach(r -> System.out.println("| " + String.join(" | ", r) + " |"));
            System.out.println();
            System.out.println("Issue 15's target is for the whole remote DATA.copy between two hosts (>= 0.9× bare "
                    + "nbdcopy; `SxmTwoHostsBench`); this table is the relays' share, held to the same ratio: "
                    + "through the relays " + String.join(", ", verdicts) + " (the 1 MiB row is the fixed cost of a "
                    + "connection, no target).");
        } finally {
            endpoint.close();
            Harness.deleteTree(dir);
        }
    }

    private static void measure(String image, Path src, Path dir, Path exportSocket, String bare, String viaRelays,
                                int rounds, List<String[]> rows, List<String> verdicts) throws Exception {
        List<String> names = List.of("bare nbdcopy → qemu-nbd", "nbdcopy → NbdTunnel → RemoteEndpoint → qemu-nbd");
        List<String> uris = List.of(bare, viaRelays);
        double[][] secs = new double[2][rounds];
        for (int i = 0; i < rounds; i++) {
            for (int k = 0; k < 2; k++) {
                int v = (i + k) % 2;
                secs[v][i] = time(src, dir, exportSocket, uris.get(v));
            }
        }
        double b = Harness.median(secs[0]);
        for (int v = 0; v < 2; v++) {
            System.err.printf(Locale.ROOT, "%s: %s %s%n", image, names.get(v), Arrays.toString(secs[v]));
            double[] paired = new double[rounds];
            for (int i = 0; i < rounds; i++) {
                paired[i] = secs[0][i] / secs[v][i];
            }
            rows.add(new String[] {image, names.get(v), String.format(Locale.ROOT, "%.3f", Harness.median(secs[v])),
                    String.format(Locale.ROOT, "%.0f", Files.size(src) / (double) MIB / Harness.median(secs[v])),
                    String.format(Locale.ROOT, "%.2f×", b / Harness.median(secs[v])),
                    String.format(Locale.ROOT, "%.2f×", Harness.median(paired))});
            if (v == 1 && verdicts != null) { // the relayed path against the target, ratio of medians as printed
                double ratio = b / Harness.median(secs[v]);
                verdicts.add(String.format(Locale.ROOT, "%s %.2f× %s", image, ratio, Harness.atLeast(ratio, 0.9)));
            }
        }
    }

    /** Seconds nbdcopy takes from {@code src} to {@code uri}, whose export is a fresh sparse file on qemu-nbd. */
    private static double time(Path src, Path dir, Path exportSocket, String uri) throws Exception {
        Path dst = dir.resolve("dst.img");
        Files.deleteIfExists(dst);
        try (RandomAccessFile f = new RandomAccessFile(dst.toFile(), "rw")) {
            f.setLength(Files.size(src));
        }
        Process qemu = startQemuNbd(dst, exportSocket);
        try {
            waitFor(new ProcessBuilder("/usr/bin/sync", "-f", dir.toString()).start(), "sync");
            long t0 = System.nanoTime();
            waitFor(new ProcessBuilder(NBDCOPY.toString(), "--flush", "--destination-is-zero", "--", src.toString(),
                    uri).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectError(ProcessBuilder.Redirect.INHERIT).start(), "nbdcopy");
            return (System.nanoTime() - t0) / 1e9;
        } finally {
            Harness.stop(qemu);
            Files.delete(dst);
        }
    }

    /** qemu-nbd as the endpoint's QemuNbd runs it, persistent so that both paths may connect more than once. */
    private static Process startQemuNbd(Path file, Path socket) throws Exception {
        Path pidFile = socket.resolveSibling("qemu-nbd.pid");
        Files.deleteIfExists(pidFile);
        Files.deleteIfExists(socket);
        Path log = socket.resolveSibling("qemu-nbd.log");
        Process p = new ProcessBuilder(QEMU_NBD.toString(), "--format=raw", "--persistent",
                "--socket=" + socket, "--pid-file=" + pidFile, "--discard=unmap", "--", file.toString())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        Harness.awaitPidFile(p, pidFile, log, "qemu-nbd");
        return p;
    }

    private static void waitFor(Process p, String what) throws Exception {
        int status = p.waitFor();
        if (status != 0) {
            throw new IOException(what + " failed, exit status " + status);
        }
    }
}
