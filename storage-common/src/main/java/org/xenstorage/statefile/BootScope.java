package org.xenstorage.statefile;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Ties attach state (which SRs and datapaths are attached) to the host boot that wrote it. After a reboot
 * nothing is attached any more, so such state from another boot must not be trusted: upstream keeps it on a
 * tmpfs ({@code /var/run/nonpersistent}) for that reason. Wherever our state lives, a sidecar file
 * {@code <state>.boot-id} holds the boot id it belongs to; {@link #adopt} moves state of another boot aside
 * before anyone loads it.
 *
 * <p>The sidecar is written before the state can be (the caller adopts before it loads or writes), and the
 * state is moved aside before the sidecar is rewritten, so a kill at any point leaves either trusted state
 * of this boot or no state.
 */
public final class BootScope {
    /** The kernel's id of the current boot (a random UUID chosen at every boot). */
    public static final Path KERNEL_BOOT_ID = Path.of("/proc/sys/kernel/random/boot_id");
    /** Appended to a state path to name its sidecar. */
    public static final String SIDECAR_SUFFIX = ".boot-id";
    /** Appended to a state path to name where state of an earlier boot is moved (the newest one only). */
    public static final String PREVIOUS_SUFFIX = ".previous-boot";
    private static final Logger LOG = LoggerFactory.getLogger(BootScope.class);

    private BootScope() {
    }

    /** What {@link #adopt} found. */
    public enum Outcome {
        /** The state was written in this boot (or has not been written yet): use it. */
        THIS_BOOT,
        /** The state was written in another boot: it was moved to {@code <state>.previous-boot}. */
        PREVIOUS_BOOT
    }

    /** Reads a boot id file (one line, such as {@link #KERNEL_BOOT_ID}). */
    public static String read(Path bootIdFile) throws IOException {
        String id = Files.readString(bootIdFile, StandardCharsets.UTF_8).strip();
        if (id.isEmpty() || id.contains("\n")) {
            throw new IOException(bootIdFile + " does not hold a boot id");
        }
        return id;
    }

    /**
     * Makes {@code state} (a file or a directory) belong to boot {@code bootId}. State with a sidecar naming
     * another boot is moved to {@code <state>.previous-boot} (replacing an older one; kept for the operator,
     * nothing reads it). State without a sidecar was written by a version that did not record boots: it is
     * trusted only when it was last modified after the kernel booted ({@code btime} of {@code /proc/stat}).
     */
    public static Outcome adopt(Path state, String bootId) throws IOException {
        Path sidecar = sidecarOf(state);
        Optional<String> recorded;
        try {
            recorded = Optional.of(Files.readString(sidecar, StandardCharsets.UTF_8).strip());
        } catch (NoSuchFileException e) {
            recorded = Optional.empty();
        }
        if (recorded.isPresent() && recorded.get().equals(bootId)) {
            return Outcome.THIS_BOOT;
        }
        Outcome outcome = Outcome.THIS_BOOT;
        if (Files.exists(state, LinkOption.NOFOLLOW_LINKS)) {
            boolean stale = recorded.isPresent() || !modifiedSinceKernelBoot(state);
            if (stale) {
                Path previous = state.resolveSibling(state.getFileName() + PREVIOUS_SUFFIX);
                deleteRecursively(previous);
                Files.move(state, previous, StandardCopyOption.ATOMIC_MOVE);
                fsync(state.toAbsolutePath().getParent());
                LOG.warn("{} was written in boot {}, this is boot {}: nothing it records is attached any more; "
                        + "moved to {}", state, recorded.orElse("(not recorded, before the kernel booted)"), bootId,
                        previous);
                outcome = Outcome.PREVIOUS_BOOT;
            }
        }
        AtomicFile.write(sidecar, (bootId + "\n").getBytes(StandardCharsets.UTF_8));
        return outcome;
    }

    /** The sidecar holding the boot id of {@code state}. */
    public static Path sidecarOf(Path state) {
        return state.resolveSibling(state.getFileName() + SIDECAR_SUFFIX);
    }

    private static boolean modifiedSinceKernelBoot(Path state) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/stat"), StandardCharsets.US_ASCII)) {
                if (line.startsWith("btime ")) {
                    Instant boot = Instant.ofEpochSecond(Long.parseLong(line.substring(6).strip()));
                    return !Files.getLastModifiedTime(state, LinkOption.NOFOLLOW_LINKS).toInstant().isBefore(boot);
                }
            }
        } catch (IOException | NumberFormatException e) {
            LOG.warn("cannot tell when the kernel booted ({}): {} is not trusted", e.toString(), state);
        }
        return false;
    }

    private static void deleteRecursively(Path p) throws IOException {
        if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
            try (DirectoryStream<Path> entries = Files.newDirectoryStream(p)) {
                for (Path e : entries) {
                    deleteRecursively(e);
                }
            }
        }
        Files.deleteIfExists(p);
    }

    private static void fsync(Path dir) throws IOException {
        try (var ch = java.nio.channels.FileChannel.open(dir, java.nio.file.StandardOpenOption.READ)) {
            ch.force(true);
        }
    }
}
