package org.xenstorage.migrate.copy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.xenstorage.exec.ProcessTree;
import org.xenstorage.testing.DebianTools;
import org.xenstorage.testing.Soon;

/**
 * A real qemu-storage-daemon (Debian qemu-system-common) exporting one raw file over NBD, on a Unix socket or on
 * TCP at 127.0.0.1, optionally with its writes throttled (a qemu throttle group) so a copy into it lasts long
 * enough to be cancelled half-way whatever the machine's speed. Ready once its pid file exists: the daemon writes
 * it after its NBD server and export are up.
 */
final class QemuExport implements AutoCloseable {
    static final String EXPORT_NAME = "disk";

    private final Process process;
    private final NbdUri uri;
    private final Path log;

    private QemuExport(Process process, NbdUri uri, Path log) {
        this.process = process;
        this.uri = uri;
        this.log = log;
    }

    /** {@code file} exported writable on the Unix socket {@code dir/nbd.sock}. */
    static QemuExport unix(Path file, Path dir) throws IOException, InterruptedException {
        return start(file, dir, "addr.type=unix,addr.path=" + dir.resolve("nbd.sock"), 0, true,
                NbdUri.unixSocket(dir.resolve("nbd.sock"), EXPORT_NAME));
    }

    /** As {@link #unix}, read-only. */
    static QemuExport unixReadOnly(Path file, Path dir) throws IOException, InterruptedException {
        return start(file, dir, "addr.type=unix,addr.path=" + dir.resolve("nbd.sock"), 0, false,
                NbdUri.unixSocket(dir.resolve("nbd.sock"), EXPORT_NAME));
    }

    /** As {@link #unix}, with writes limited to {@code bytesPerSecond}. */
    static QemuExport unixThrottled(Path file, Path dir, long bytesPerSecond) throws IOException, InterruptedException {
        return start(file, dir, "addr.type=unix,addr.path=" + dir.resolve("nbd.sock"), bytesPerSecond, true,
                NbdUri.unixSocket(dir.resolve("nbd.sock"), EXPORT_NAME));
    }

    /** {@code file} exported writable on 127.0.0.1:{@code port}. */
    static QemuExport tcp(Path file, Path dir, int port) throws IOException, InterruptedException {
        return start(file, dir, "addr.type=inet,addr.host=127.0.0.1,addr.port=" + port, 0, true,
                NbdUri.tcp("127.0.0.1", port, EXPORT_NAME));
    }

    private static QemuExport start(Path file, Path dir, String address, long writeLimit, boolean writable,
                                    NbdUri uri) throws IOException, InterruptedException {
        Path qsd = DebianTools.require(DebianTools.Tool.QEMU_STORAGE_DAEMON);
        Path pidFile = dir.resolve("qsd.pid");
        Path log = dir.resolve("qsd.log");
        Files.deleteIfExists(pidFile);
        List<String> argv = new ArrayList<>(List.of(qsd.toString(),
                "--blockdev", "driver=file,node-name=file0,filename=" + file.toString().replace(",", ",,")
                        + (writable ? "" : ",read-only=on")));
        String node = "file0";
        if (writeLimit > 0) {
            argv.addAll(List.of("--object", "throttle-group,id=tg0,x-bps-write=" + writeLimit,
                    "--blockdev", "driver=throttle,node-name=slow0,throttle-group=tg0,file=file0"));
            node = "slow0";
        }
        argv.addAll(List.of("--nbd-server", address,
                "--export", "type=nbd,id=exp0,node-name=" + node + ",name=" + EXPORT_NAME
                        + ",writable=" + (writable ? "on" : "off"),
                "--pidfile", pidFile.toString()));
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        QemuExport export = new QemuExport(p, uri, log);
        try {
            Soon.await("qemu-storage-daemon ready (" + argv + ")", () -> {
                if (!p.isAlive()) {
                    throw new AssertionError("qemu-storage-daemon exited " + p.exitValue() + ": "
                            + Files.readString(log));
                }
                return Files.exists(pidFile) && Files.size(pidFile) > 0;
            });
        } catch (AssertionError | InterruptedException e) {
            export.close();
            throw e;
        }
        return export;
    }

    NbdUri uri() {
        return uri;
    }

    boolean isAlive() {
        return process.isAlive();
    }

    String log() throws IOException {
        return Files.readString(log);
    }

    /** Stops the daemon (SIGTERM: it flushes and exits), SIGKILL if it does not exit soon. */
    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(Soon.millis(), TimeUnit.MILLISECONDS)) {
            ProcessTree.kill(process);
            process.waitFor();
        }
    }
}
