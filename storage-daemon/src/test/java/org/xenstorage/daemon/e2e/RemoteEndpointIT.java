package org.xenstorage.daemon.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.DpStat;
import org.xenstorage.idl.types.Implementation;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.migrate.remote.NbdTunnel;
import org.xenstorage.migrate.remote.RemoteNbdPath;
import org.xenstorage.migrate.remote.RemoteStorage;
import org.xenstorage.migrate.remote.RemoteTls;
import org.xenstorage.testing.DebianTools;
import org.xenstorage.testing.DebianTools.Tool;
import org.xenstorage.testing.Soon;

/**
 * One real daemon with its remote endpoint (plain HTTP on loopback), reached the way another host's daemon
 * reaches it: SMAPIv2 through {@link RemoteStorage}, NBD through an {@link NbdTunnel} read by nbdinfo and written by
 * nbdcopy (libnbd-bin) with qemu-nbd (qemu-utils) behind the endpoint; and raw sockets for every refusal.
 */
class RemoteEndpointIT {
    static final long SIZE = 16 << 20;

    @TempDir
    static Path dir;
    static RemoteDaemon daemon;
    static StorageService remote;
    static String sr;
    static Path srDir;

    @BeforeAll
    static void start() throws Exception {
        daemon = RemoteDaemon.start(dir, null, RemoteTls.systemTrust());
        remote = daemon.storage();
        sr = UUID.randomUUID().toString();
        srDir = dir.resolve("sr");
        Files.createDirectories(srDir);
        register(daemon, sr, "localfile");
        remote.sr().create("it", sr, "remote SR", "", Map.of("location", srDir.toString()), 0);
        remote.sr().attach("it", sr, Map.of("location", srDir.toString()));
    }

    @AfterAll
    static void stop() throws Exception {
        if (daemon != null) {
            daemon.close();
        }
    }

    /** The mux's Registry.register extension call, through the endpoint like every other call. */
    static void register(RemoteDaemon d, String sr, String type) throws Exception {
        String reply = Soon.get(RemoteStorage.transport(d.url, d.tls, RemoteStorage.Options.defaults())
                .call("{\"method\":\"Registry.register\",\"params\":[{\"dbg\":\"it\",\"sr\":\"" + sr
                        + "\",\"sr_type\":\"" + type + "\"}],\"id\":1}"));
        JsonNode r = Json.parse(reply);
        assertTrue(r.get("error").isNull(), reply);
    }

    @Test
    void smapiv2OverHttpReachesTheMuxAndItsErrorsComeBackAsStorageErrors() {
        assertEquals("mux", remote.query().query("it").driver());
        assertTrue(remote.sr().list("it").contains(sr), "SR.list through the endpoint");
        StorageException e = org.junit.jupiter.api.Assertions.assertThrows(StorageException.class,
                () -> remote.vdi().stat("it", "no-such-sr", "v"));
        assertEquals(new StorageError.NoStoragePluginForSr("no-such-sr"), e.error(), "the same error as a local call");
    }

    /** Sends raw bytes, reads until the server closes; returns what it said. */
    String raw(String request) throws Exception {
        return raw(request.getBytes(StandardCharsets.ISO_8859_1));
    }

    String raw(byte[] request) throws Exception {
        return exchange(request, false);
    }

    /**
     * Sends {@code request} on a fresh connection and reads until the endpoint closes it (it closes every refused
     * one). With {@code halfClose} the request's end is signalled (so a cut request ends) and a reset counts as a
     * refusal without an answer ({@code ""}).
     */
    String exchange(byte[] request, boolean halfClose) throws Exception {
        return Soon.get(CompletableFuture.supplyAsync(() -> {
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), daemon.port)) {
                s.getOutputStream().write(request);
                s.getOutputStream().flush();
                if (halfClose) {
                    s.shutdownOutput();
                }
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                s.getInputStream().transferTo(out);
                return out.toString(StandardCharsets.ISO_8859_1);
            } catch (java.net.SocketException e) {
                if (halfClose) {
                    return ""; // reset by the endpoint: refused without an answer
                }
                throw new java.io.UncheckedIOException(e);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }));
    }

    static void assertStatus(int code, String response, String what) {
        assertTrue(response.startsWith("HTTP/1.1 " + code + " "), what + ": " + response);
    }

    @Test
    void requestsWithoutTheTokenWhereTheUrlPutsItAreRefusedAndTouchNothing() throws Exception {
        VdiInfo vdi = remote.vdi().create("it", sr, VdiInfo.defaults("", "untouched").withSizes(1 << 20, 0));
        String dp = "dp-refused";
        String attach = "{\"method\":\"VDI.attach3\",\"params\":[{\"dbg\":\"x\",\"dp\":\"" + dp + "\",\"sr\":\"" + sr
                + "\",\"vdi\":\"" + vdi.vdi() + "\",\"vm\":\"0\",\"read_write\":true}],\"id\":1}";
        String nbd = RemoteNbdPath.nbd("0", sr, vdi.vdi(), dp).path();
        String t = daemon.token;
        List<String[]> forbidden = List.of(
                new String[] {"no token", post("/services/SM", "", attach)},
                new String[] {"wrong token", post("/services/SM?session_id=wrong-" + t, "", attach)},
                new String[] {"token as a prefix", post("/services/SM?session_id=" + t.substring(0, t.length() - 1), "",
                        attach)},
                new String[] {"token twice", post("/services/SM?session_id=" + t + "&session_id=" + t, "", attach)},
                new String[] {"token in a cookie", post("/services/SM", "Cookie: session_id=" + t + "\r\n", attach)},
                new String[] {"token in Authorization", post("/services/SM", "Authorization: Bearer " + t + "\r\n",
                        attach)},
                new String[] {"token in the path", post("/services/SM/" + t, "", attach)},
                new String[] {"token in the body", post("/services/SM", "", attach.replace("\"x\"", "\"" + t + "\""))},
                new String[] {"NBD without token", "PUT " + nbd + " HTTP/1.0\r\n\r\n"},
                new String[] {"NBD with token in a header", "PUT " + nbd + " HTTP/1.0\r\nX-Session-Id: " + t
                        + "\r\n\r\n"},
                new String[] {"NBD with a wrong token", "PUT " + nbd + "?session_id=nope HTTP/1.0\r\n\r\n"});
        for (String[] c : forbidden) {
            assertStatus(403, raw(c[1]), c[0]);
        }
        String q = "?session_id=" + t;
        assertStatus(400, raw("NOT HTTP AT ALL\r\n\r\n"), "garbage");
        assertStatus(400, raw("POST /services/SM" + q + " HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n"),
                "a header line without a colon");
        assertStatus(400, raw("GET /" + "x".repeat(10_000) + " HTTP/1.1\r\n\r\n"), "a request line over the limit");
        assertStatus(400, raw("GET /services/SM" + q + " HTTP/1.1\r\nX-Big: " + "y".repeat(20_000) + "\r\n\r\n"),
                "headers over the limit");
        assertStatus(413, raw("POST /services/SM" + q + " HTTP/1.1\r\nHost: x\r\nContent-Length: " + (64 << 20)
                + "\r\n\r\n"), "a body over the limit");
        assertStatus(404, raw("GET /services/SM/nope" + q + " HTTP/1.1\r\nHost: x\r\n\r\n"), "unknown path");
        assertStatus(404, raw("PUT /services/SM/nbd/a/b" + q + " HTTP/1.0\r\n\r\n"), "a short NBD path");
        assertStatus(405, raw("GET /services/SM" + q + " HTTP/1.1\r\nHost: x\r\n\r\n"), "GET on the RPC path");
        assertStatus(405, raw("POST " + nbd + q + " HTTP/1.0\r\nContent-Length: 0\r\n\r\n"), "POST on an NBD path");

        DpStat stat = remote.dp().statVdi("it", sr, vdi.vdi());
        assertEquals(Map.of(), stat.dps(), "no datapath was made: " + stat);
        assertEquals(List.of(), daemon.qemuNbds(), "no qemu-nbd was started");
        assertTrue(daemon.process.process.isAlive(), daemon.process.output());
        assertFalse(daemon.process.output().contains(t), "the token is never logged");
        // the right token on an NBD path of a datapath that does not exist: 404, and still nothing started
        assertStatus(404, raw("PUT " + nbd + q + " HTTP/1.0\r\n\r\n"), "a datapath that is not attached");
        assertEquals(List.of(), daemon.qemuNbds());
    }

    /**
     * Bad NBD handshakes sent after the endpoint has accepted the upgrade (each is what a client sends once it has
     * read the server's greeting): garbage in place of the client flags, a wrong option magic, an option haggle
     * cut short by the client, an option length far over any limit, an export that does not exist. Each: the
     * half-close flag, and the bytes.
     */
    static final List<Object[]> BAD_HANDSHAKES = List.of(
            new Object[] {"garbage instead of the client flags", false,
                    "this is not NBD at all\r\n".getBytes(StandardCharsets.ISO_8859_1)},
            new Object[] {"a wrong option magic", false, concat(u32(3), ascii("IHAVEOPX"), u32(7), u32(0))},
            new Object[] {"an option haggle cut short", true, concat(u32(3), ascii("IHAVEOPT"), u32(7), u32(32),
                    ascii("half"))},
            new Object[] {"the client flags cut short", true, new byte[] {0, 0}},
            new Object[] {"a huge option length", false, concat(u32(3), ascii("IHAVEOPT"), u32(7), u32(0xFFFFFFF0))},
            new Object[] {"an export that does not exist", false, concat(u32(1), ascii("IHAVEOPT"), u32(1), u32(4),
                    ascii("nope"))});

    /**
     * Issue 15's bad NBD handshake, through an upgrade the endpoint accepted (right token, an attached and activated
     * datapath, qemu-nbd behind it): after the greeting the client sends each of {@link #BAD_HANDSHAKES}. The
     * connection ends (qemu-nbd refuses, the endpoint closes the client's side), the daemon stays up, the
     * datapath is the only one of the VDI, no qemu-nbd is left, and a proper NBD client still works afterwards.
     */
    @Test
    void aBadNbdHandshakeAfterAnAcceptedUpgradeEndsOnlyThatConnection() throws Exception {
        String nbdinfo = DebianTools.require(Tool.NBDINFO).toString();
        DebianTools.require(Tool.QEMU_NBD);
        VdiInfo vdi = remote.vdi().create("it", sr, VdiInfo.defaults("", "handshake").withSizes(1 << 20, 0));
        String dp = "dp-handshake";
        remote.vdi().attach3("it", dp, sr, vdi.vdi(), "vm9", true);
        remote.vdi().activate3("it", dp, sr, vdi.vdi(), "vm9");
        String upgrade = "PUT " + RemoteNbdPath.nbd("vm9", sr, vdi.vdi(), dp).path() + "?session_id=" + daemon.token
                + " HTTP/1.0\r\n\r\n";
        for (Object[] shape : BAD_HANDSHAKES) {
            String what = (String) shape[0];
            String after = Soon.get(CompletableFuture.supplyAsync(() -> {
                try (Socket s = new Socket(InetAddress.getLoopbackAddress(), daemon.port)) {
                    s.getOutputStream().write(upgrade.getBytes(StandardCharsets.ISO_8859_1));
                    java.io.InputStream in = s.getInputStream();
                    String head = readHead(in);
                    assertTrue(head.startsWith("HTTP/1.1 200 OK") && head.toLowerCase(java.util.Locale.ROOT)
                            .contains("transfer-encoding: nbd"), what + ": the upgrade is accepted: " + head);
                    byte[] greeting = in.readNBytes(18);
                    assertEquals("NBDMAGICIHAVEOPT", new String(greeting, 0, 16, StandardCharsets.ISO_8859_1),
                            what + ": the NBD server's greeting comes through");
                    s.getOutputStream().write((byte[]) shape[2]);
                    s.getOutputStream().flush();
                    if ((Boolean) shape[1]) {
                        s.shutdownOutput();
                    }
                    try {
                        return "ended after " + in.readAllBytes().length + " more bytes";
                    } catch (java.net.SocketException e) {
                        return "reset"; // qemu-nbd's own close can reach the client as a reset: it ended too
                    }
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(what, e);
                }
            }));
            System.out.println("remote-bad-handshake: " + what + ": " + after);
            Soon.await(what + ": its qemu-nbd is stopped", () -> daemon.qemuNbds().isEmpty());
            assertTrue(daemon.process.process.isAlive(), daemon.process.output());
        }
        assertEquals(java.util.Set.of(dp), remote.dp().statVdi("it", sr, vdi.vdi()).dps().keySet(),
                "the test's datapath is the only one: nothing else was attached");
        try (NbdTunnel t = NbdTunnel.open(daemon.url, daemon.tls, RemoteNbdPath.nbd("vm9", sr, vdi.vdi(), dp),
                Files.createDirectories(dir.resolve("t-hs")))) {
            assertEquals(String.valueOf(1 << 20), run(nbdinfo, "--size", t.nbdUri()).strip(),
                    "a proper NBD client still gets the export");
        }
        remote.vdi().deactivate("it", dp, sr, vdi.vdi(), "vm9");
        remote.vdi().detach("it", dp, sr, vdi.vdi(), "vm9");
        assertEquals(Map.of(), remote.dp().statVdi("it", sr, vdi.vdi()).dps(), "nothing stays attached");
        Soon.await("no qemu-nbd is left", () -> daemon.qemuNbds().isEmpty());
        assertFalse(daemon.process.output().contains(daemon.token), "the token is never logged");
    }

    /** An HTTP response head, up to and including its blank line, read byte by byte (the NBD bytes follow it). */
    static String readHead(java.io.InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                break;
            }
            head.write(b);
        }
        return head.toString(StandardCharsets.ISO_8859_1);
    }

    static byte[] u32(long v) {
        return java.nio.ByteBuffer.allocate(4).putInt((int) v).array();
    }

    static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    /** Hostile requests sent by the bad-input test (the 10,000; {@code -Dreliability.remote.requests=N}). */
    static final int HOSTILE = Integer.getInteger("reliability.remote.requests", 10_000);

    /**
     * Thousands of hostile requests (seeded, printed): refused shapes of every kind, each mutated (bytes flipped,
     * cut short, spliced, repeated) and sent on its own connection, half-closed so a cut request ends. Among the
     * seeds are {@link #BAD_HANDSHAKES} behind an upgrade the endpoint accepts (the test's own datapath). None may
     * get anything but a 4xx, a closed connection, or (only for an intact upgrade request to that datapath) the
     * upgrade; afterwards the daemon is alive, nothing else was attached, no qemu-nbd runs, the token was never
     * logged, and a proper call still works.
     */
    @Test
    void hostileRequestsByTheThousandAreRefusedAndTouchNothing() throws Exception {
        VdiInfo vdi = remote.vdi().create("it", sr, VdiInfo.defaults("", "hostile").withSizes(1 << 20, 0));
        String t = daemon.token;
        String attach = "{\"method\":\"VDI.attach3\",\"params\":[{\"dbg\":\"x\",\"dp\":\"h\",\"sr\":\"" + sr
                + "\",\"vdi\":\"" + vdi.vdi() + "\",\"vm\":\"0\",\"read_write\":true}],\"id\":1}";
        String nbd = RemoteNbdPath.nbd("0", sr, vdi.vdi(), "h").path();
        String proxy = RemoteNbdPath.nbdProxyImport("0", sr, vdi.vdi(), "h").path();
        // one datapath the test attaches itself: an upgrade to it is accepted, and what follows is a bad handshake
        VdiInfo open = remote.vdi().create("it", sr, VdiInfo.defaults("", "hostile-open").withSizes(1 << 20, 0));
        remote.vdi().attach3("it", "hs", sr, open.vdi(), "0", true);
        remote.vdi().activate3("it", "hs", sr, open.vdi(), "0");
        String accepted = "PUT " + RemoteNbdPath.nbd("0", sr, open.vdi(), "hs").path() + "?session_id=" + t
                + " HTTP/1.0\r\n";
        // Seeds: no seed with the token could attach anything (the right token only on paths of a datapath
        // that does not exist, or with a method the path refuses, or on the test's own datapath), so no
        // mutation of one can either.
        List<String> seeds = new ArrayList<>(List.of(
                post("/services/SM", "", attach),
                post("/services/SM?session_id=wrong-" + t, "", attach),
                post("/services/SM", "Cookie: session_id=" + t + "\r\n", attach),
                post("/services/SM/" + t, "", attach),
                "PUT " + nbd + " HTTP/1.0\r\n\r\n",
                "PUT " + proxy + "?session_id=nope HTTP/1.0\r\n\r\n",
                "PUT " + nbd + " HTTP/1.0\r\nX-Session-Id: " + t + "\r\n\r\nNBDMAGIC\u0000\u0000\u0000",
                "PUT " + nbd + "?session_id=" + t + " HTTP/1.0\r\n\r\nIHAVEOPT garbage after the upgrade",
                "GET /services/SM?session_id=" + t + " HTTP/1.1\r\nHost: x\r\n\r\n",
                "POST " + proxy + "?session_id=" + t + " HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
                "GET /../../etc/passwd?session_id=" + t + " HTTP/1.1\r\n\r\n",
                "PUT /services/SM/nbd/%2e%2e/%2e%2e/x/y?session_id=" + t + " HTTP/1.0\r\n\r\n",
                "POST /services/SM HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\n" + attach,
                "NOT HTTP AT ALL\r\n\r\n"));
        for (Object[] shape : BAD_HANDSHAKES) {
            seeds.add(accepted + "\r\n" + new String((byte[]) shape[2], StandardCharsets.ISO_8859_1));
        }
        long seed = Long.getLong("reliability.seed", System.nanoTime());
        Random random = new Random(seed);
        Map<String, Integer> answers = new java.util.TreeMap<>();
        for (int i = 0; i < HOSTILE; i++) {
            byte[] request = mutate(seeds.get(random.nextInt(seeds.size())).getBytes(StandardCharsets.ISO_8859_1),
                    random);
            // an intact upgrade head: read the answer and the greeting before the (mutated) handshake goes
            // out, as a real NBD client does; half-closing at once would end it before the upgrade
            boolean upgrade = new String(request, StandardCharsets.ISO_8859_1).startsWith(accepted + "\r\n");
            String response = upgrade ? upgradeThenSend(request, accepted.length() + 2) : exchange(request, true);
            String status = response.isEmpty() ? "closed" : response.substring(0, Math.min(12, response.length()));
            answers.merge(status, 1, Integer::sum);
            // an upgrade is accepted only for the test's own datapath, and its request line came through intact
            boolean upgraded = upgrade && response.startsWith("HTTP/1.1 200 OK");
            assertTrue(response.isEmpty() || upgraded || response.matches("(?s)HTTP/1\\.1 4\\d\\d .*"), "request " + i
                    + " (seed " + seed + ") answered " + response + " to " + new String(request,
                    StandardCharsets.ISO_8859_1).replace(t, "<token>"));
        }
        System.out.println("remote-bad-input: seed=" + seed + " requests=" + HOSTILE + " answers=" + answers);
        assertTrue(daemon.process.process.isAlive(), daemon.process.output());
        assertEquals(Map.of(), remote.dp().statVdi("it", sr, vdi.vdi()).dps(), "nothing was attached");
        assertEquals(java.util.Set.of("hs"), remote.dp().statVdi("it", sr, open.vdi()).dps().keySet(),
                "the test's own datapath is the only one of its VDI");
        Soon.await("no qemu-nbd is left", () -> daemon.qemuNbds().isEmpty());
        remote.vdi().deactivate("it", "hs", sr, open.vdi(), "0");
        remote.vdi().detach("it", "hs", sr, open.vdi(), "0");
        assertFalse(daemon.process.output().contains(t), "the token is never logged");
        assertEquals("mux", remote.query().query("it").driver(), "a proper call still works");
    }

    /**
     * Sends the first {@code headLength} bytes of {@code request} (an upgrade request's head), reads the answer's
     * head and, when the upgrade is accepted, the NBD greeting; then sends the rest, half-closes and reads until
     * the endpoint closes. Returns everything read.
     */
    String upgradeThenSend(byte[] request, int headLength) throws Exception {
        return Soon.get(CompletableFuture.supplyAsync(() -> {
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), daemon.port)) {
                s.getOutputStream().write(request, 0, headLength);
                java.io.InputStream in = s.getInputStream();
                String head = readHead(in);
                ByteArrayOutputStream got = new ByteArrayOutputStream();
                got.writeBytes(head.getBytes(StandardCharsets.ISO_8859_1));
                try {
                    if (head.startsWith("HTTP/1.1 200 ")) {
                        got.writeBytes(in.readNBytes(18));
                        s.getOutputStream().write(request, headLength, request.length - headLength);
                    }
                    s.shutdownOutput();
                    in.transferTo(got);
                } catch (java.net.SocketException e) {
                    // closed or reset by qemu-nbd's refusal while the rest was still going out: the connection ended
                }
                return got.toString(StandardCharsets.ISO_8859_1);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }));
    }

    /** One to three random edits of {@code in}: a flipped byte, a cut, a spliced run of bytes, a repeat. */
    static byte[] mutate(byte[] in, Random random) {
        byte[] out = in;
        for (int edits = 1 + random.nextInt(3); edits > 0; edits--) {
            int at = random.nextInt(out.length + 1);
            switch (random.nextInt(4)) {
                case 0 -> {
                    if (at < out.length) {
                        out = out.clone();
                        out[at] = (byte) random.nextInt(256);
                    }
                }
                case 1 -> out = java.util.Arrays.copyOf(out, at);
                case 2 -> {
                    byte[] run = new byte[1 + random.nextInt(64)];
                    random.nextBytes(run);
                    out = splice(out, at, run);
                }
                default -> out = splice(out, at, java.util.Arrays.copyOfRange(out, at, Math.min(out.length,
                        at + 1 + random.nextInt(256))));
            }
        }
        return out;
    }

    static byte[] splice(byte[] in, int at, byte[] run) {
        byte[] out = new byte[in.length + run.length];
        System.arraycopy(in, 0, out, 0, at);
        System.arraycopy(run, 0, out, at, run.length);
        System.arraycopy(in, at, out, at + run.length, in.length - at);
        return out;
    }

    static String post(String target, String headers, String body) {
        return "POST " + target + " HTTP/1.1\r\nHost: x\r\n" + headers + "Content-Type: application/json\r\n"
                + "Content-Length: " + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body;
    }

    @Test
    void anAttachedVdiIsAnNbdExportThroughTheTunnel() throws Exception {
        String nbdinfo = DebianTools.require(Tool.NBDINFO).toString();
        String nbdcopy = DebianTools.require(Tool.NBDCOPY).toString();
        DebianTools.require(Tool.QEMU_NBD).toString();
        VdiInfo vdi = remote.vdi().create("it", sr, VdiInfo.defaults("", "exported").withSizes(SIZE, 0));
        String dp = "vbd/remote/xvda"; // a slash: the path's segments are escaped
        Backend backend = remote.vdi().attach3("it", dp, sr, vdi.vdi(), "vm7", true);
        remote.vdi().activate3("it", dp, sr, vdi.vdi(), "vm7");
        Path file = Path.of(backend.first(Implementation.File.class).map(f -> f.value().path())
                .or(() -> backend.first(Implementation.BlockDevice.class).map(b -> b.value().path()))
                .orElseThrow(() -> new AssertionError("no file in " + backend)));
        Path tunnels = Files.createDirectories(dir.resolve("t"));
        try (NbdTunnel nbd = NbdTunnel.open(daemon.url, daemon.tls, RemoteNbdPath.nbd("vm7", sr, vdi.vdi(), dp), tunnels);
             NbdTunnel proxy = NbdTunnel.open(daemon.url, daemon.tls,
                     RemoteNbdPath.nbdProxyImport("vm7", sr, vdi.vdi(), dp), tunnels)) {
            assertEquals(String.valueOf(SIZE), run(nbdinfo, "--size", nbd.nbdUri()).strip());
            assertEquals(String.valueOf(SIZE), run(nbdinfo, "--size", proxy.nbdUri()).strip(), "the nbdproxy path");

            // random blocks with zero runs between them, copied into the VDI through the tunnel
            byte[] image = new byte[(int) SIZE];
            Random random = new Random(7);
            for (int off = 0; off < image.length; off += 1 << 20) {
                if ((off >> 20) % 3 != 1) {
                    byte[] block = new byte[1 << 20];
                    random.nextBytes(block);
                    System.arraycopy(block, 0, image, off, block.length);
                }
            }
            Path source = dir.resolve("source.img");
            Files.write(source, image);
            run(nbdcopy, "--flush", source.toString(), nbd.nbdUri());
            assertArrayEquals(image, Files.readAllBytes(file), "the VDI's file equals what nbdcopy sent");
            assertEquals(SIZE, Files.size(file));
        }
        Soon.await("closing the tunnels leaves no qemu-nbd", () -> daemon.qemuNbds().isEmpty());
        remote.vdi().deactivate("it", dp, sr, vdi.vdi(), "vm7");
        remote.vdi().detach("it", dp, sr, vdi.vdi(), "vm7");
        assertFalse(daemon.process.output().contains(daemon.token), "the token is never logged");
    }

    @Test
    void aSmapiv3VolumeAttachedOnlyIsExportedToo() throws Exception {
        String nbdinfo = DebianTools.require(Tool.NBDINFO).toString();
        String qemuIo = DebianTools.require(Tool.QEMU_IO).toString();
        String v3 = UUID.randomUUID().toString();
        Path v3Dir = Files.createDirectories(dir.resolve("sr-v3"));
        register(daemon, v3, "simplefile");
        remote.sr().create("it", v3, "v3 SR", "", Map.of("path", v3Dir.toString()), 0);
        remote.sr().attach("it", v3, Map.of("path", v3Dir.toString()));
        VdiInfo vdi = remote.vdi().create("it", v3, VdiInfo.defaults("", "v3").withSizes(8 << 20, 0));
        // attached, not activated: the SMAPIv3 bridge answers DP.attach_info for an attached datapath
        Backend backend = remote.vdi().attach3("it", "dp-v3", v3, vdi.vdi(), "vm3", true);
        Path file = Path.of(backend.first(Implementation.File.class).map(f -> f.value().path())
                .orElseThrow(() -> new AssertionError("no File in " + backend)));
        try (NbdTunnel t = NbdTunnel.open(daemon.url, daemon.tls,
                RemoteNbdPath.nbdProxyImport("vm3", v3, vdi.vdi(), "dp-v3"), Files.createDirectories(dir.resolve("t3")))) {
            assertEquals(String.valueOf(8 << 20), run(nbdinfo, "--size", t.nbdUri(backend)).strip());
            // qemu-io, another NBD client: a pattern written through the tunnel lands in the volume's file
            run(qemuIo, "-f", "raw", "-c", "write -P 0x5a 1M 64k", t.nbdUri(backend));
            byte[] bytes = Files.readAllBytes(file);
            for (int i = 1 << 20; i < (1 << 20) + (64 << 10); i++) {
                assertEquals(0x5a, bytes[i] & 0xff, "byte " + i);
            }
        }
        Soon.await("no qemu-nbd left", () -> daemon.qemuNbds().isEmpty());
        remote.dp().destroy2("it", "dp-v3", v3, vdi.vdi(), "vm3", false);
    }

    /** Runs a tool to its end; fails with its output unless it exits 0. */
    static String run(String... argv) throws Exception {
        Process p = new ProcessBuilder(new ArrayList<>(List.of(argv))).redirectErrorStream(true).start();
        CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> {
            try {
                return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        int status = Soon.exitOf(p);
        String text = Soon.get(out);
        assertEquals(0, status, String.join(" ", argv) + " failed:\n" + text);
        return text;
    }
}
