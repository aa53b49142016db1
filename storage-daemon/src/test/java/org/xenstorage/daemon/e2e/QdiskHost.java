package org.xenstorage.daemon.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.migrate.remote.NbdExport;
import org.xenstorage.migrate.remote.RemoteStorage;
import org.xenstorage.migrate.remote.RemoteTls;
import org.xenstorage.testing.Soon;

/**
 * One "host" of a storage-motion test: a real daemon ({@link RemoteDaemon}: embedded switch, remote endpoint with
 * a token) whose SMAPIv3 plugins run the qdisk datapath under a private {@code QDISK_RUN_DIR}, and one simplefile
 * SR created with {@code datapath=qdisk}, so every VDI attach is served by qemu-storage-daemon over NBD. Reusable:
 * {@code SxmTwoHostsIT} starts the same hosts in network namespaces.
 */
final class QdiskHost implements AutoCloseable {
    final String name;
    final Path dir;
    final Path qdiskRun;
    final Path srDir;
    final String sr;
    RemoteDaemon daemon;
    StorageService storage;

    private QdiskHost(String name, Path dir) {
        this.name = name;
        this.dir = dir;
        this.qdiskRun = dir.resolve("q"); // short: qemu's unix socket paths must fit in 107 bytes
        this.srDir = dir.resolve("sr");
        this.sr = "sr-" + name + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    /** Starts the daemon under {@code dir} and creates, registers and attaches its qdisk SR. */
    static QdiskHost start(String name, Path dir) throws Exception {
        QdiskHost h = new QdiskHost(name, dir);
        try {
            Files.createDirectories(h.srDir);
            h.startDaemon();
            h.register();
            Map<String, String> config = Map.of("path", h.srDir.toString(), "datapath", "qdisk");
            h.storage.sr().create("it", h.sr, name + " SR", "", config, 0);
            h.storage.sr().attach("it", h.sr, config);
        } catch (Throwable e) {
            h.close();
            throw e;
        }
        return h;
    }

    private void startDaemon() throws Exception {
        daemon = RemoteDaemon.start(dir, null, RemoteTls.systemTrust(), Map.of("QDISK_RUN_DIR", qdiskRun.toString(),
                "QDISK_TIMEOUT", Long.toString(Soon.seconds())));
        storage = daemon.storage(Soon.times(4)); // a send_start answers once the mirror is ready
    }

    private void register() throws Exception {
        String reply = Soon.get(RemoteStorage.transport(daemon.url, daemon.tls, RemoteStorage.Options.defaults())
                .call("{\"method\":\"Registry.register\",\"params\":[{\"dbg\":\"it\",\"sr\":\"" + sr
                        + "\",\"sr_type\":\"simplefile\"}],\"id\":1}"));
        JsonNode r = Json.parse(reply);
        if (!r.get("error").isNull()) {
            throw new AssertionError("Registry.register: " + reply);
        }
    }

    /** The endpoint's url, token included (what xapi passes as a remote SMAPIv2 url). */
    String url() {
        return "http://127.0.0.1:" + daemon.port + "/services/SM?session_id=" + daemon.token;
    }

    /** A new VDI of {@code size} bytes in this host's SR. */
    VdiInfo newVdi(String label, long size) {
        return storage.vdi().create("it", sr, VdiInfo.defaults("", label).withSizes(size, 0));
    }

    /** The VDI as SR.scan2 lists it now, if it exists. */
    java.util.Optional<VdiInfo> vdi(String vdi) {
        return storage.sr().scan2("it", sr).vdis().stream().filter(v -> v.vdi().equals(vdi)).findFirst();
    }

    /** Attaches (read-write) and activates {@code vdi} on {@code dp} for {@code vm}: the guest's NBD export URI. */
    String plug(String dp, String vdi, String vm) {
        Backend b = storage.vdi().attach3("it", dp, sr, vdi, vm, true);
        storage.vdi().activate3("it", dp, sr, vdi, vm);
        NbdExport e = NbdExport.of(b).orElseThrow(() -> new AssertionError("no NBD export in " + b));
        return "nbd+unix:///" + e.exportName() + "?socket=" + e.socket();
    }

    /** The file holding {@code vdi}'s bytes (simplefile: {@code <path>/<key>.raw}). */
    Path fileOf(String vdi) {
        return srDir.resolve(vdi + ".raw");
    }

    /** SHA-256 of a VDI's file. */
    String sha256(String vdi) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (var in = Files.newInputStream(fileOf(vdi))) {
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /** SHA-256 of {@code size} zero bytes (what an untouched VDI reads as). */
    static String zeroSha256(long size) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        byte[] zeros = new byte[1 << 16];
        for (long left = size; left > 0; left -= zeros.length) {
            md.update(zeros, 0, (int) Math.min(zeros.length, left));
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /** The qemu-storage-daemon processes serving this host's volumes (their argv names its qdisk run dir). */
    List<ProcessHandle> qemuStorageDaemons() {
        String marker = qdiskRun.toString() + "/";
        return ProcessHandle.allProcesses().filter(p -> {
            try {
                String cmd = new String(Files.readAllBytes(Path.of("/proc", Long.toString(p.pid()), "cmdline")),
                        StandardCharsets.UTF_8);
                return cmd.contains("qemu-storage-daemon") && cmd.contains(marker);
            } catch (IOException e) {
                return false;
            }
        }).toList();
    }

    /** The mux's datapaths (DP_info), one per line as {@code DP.diagnostics} prints them. */
    List<String> datapaths() {
        String text = storage.dp().diagnostics();
        String head = "The mux knows these datapaths (DP_info):\n";
        String rest = text.substring(text.indexOf(head) + head.length());
        return rest.lines().takeWhile(l -> l.startsWith("    ")).map(String::strip)
                .filter(l -> !l.equals("(none)")).toList();
    }

    /** SIGKILL of the daemon (its qemu-storage-daemons, in their own sessions, survive it, as on a host). */
    void kill9() throws InterruptedException {
        daemon.process.kill9();
    }

    /**
     * Starts the daemon again on the same state (a new endpoint port and token: {@link #url()} changes); the SR
     * stays registered and attached. What the daemon reclaims at start-up runs in the background: wait for it.
     */
    void restart() throws Exception {
        daemon.close();
        startDaemon();
    }

    @Override
    public void close() throws InterruptedException {
        try {
            if (daemon != null) {
                daemon.close();
            }
        } finally {
            for (ProcessHandle p : qemuStorageDaemons()) { // a failed test must not leave them to the next
                p.destroyForcibly();
            }
        }
    }
}
