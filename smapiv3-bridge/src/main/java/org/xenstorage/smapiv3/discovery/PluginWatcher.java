package org.xenstorage.smapiv3.discovery;

import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the served plugins in step with {@code <root>/volume} and {@code <root>/datapath}: a
 * {@link WatchService} on both wakes a full rescan at once, and a full rescan also runs every
 * {@code rescanPeriod} (covering anything the watch misses, such as scripts added inside a datapath
 * directory, which re-registers it). One thread; the callbacks run on it.
 */
public final class PluginWatcher implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(PluginWatcher.class);

    /** What the watcher asks its owner to do. */
    public interface Listener {
        void volumePluginAdded(String plugin, Path dir);

        void volumePluginRemoved(String plugin);

        /** A datapath directory appeared or changed: (re)register it. */
        void datapathChanged(String scheme, Path dir);

        void datapathRemoved(String scheme);

        /** Called after every full rescan (about once a second): a chance to retry what failed. */
        default void rescanned() {
        }
    }

    private final Path volumeRoot;
    private final Path datapathRoot;
    private final Listener listener;
    private final Duration rescanPeriod;
    private final Map<String, Path> volumes = new TreeMap<>();
    private final Map<String, String> datapaths = new HashMap<>();
    private final Set<Path> warned = new HashSet<>();
    private final WatchService watch;
    private final Thread thread;
    private volatile boolean running = true;

    private PluginWatcher(Path root, Listener listener, Duration rescanPeriod) throws IOException {
        this.volumeRoot = root.resolve("volume");
        this.datapathRoot = root.resolve("datapath");
        this.listener = listener;
        this.rescanPeriod = rescanPeriod;
        this.watch = FileSystems.getDefault().newWatchService();
        for (Path dir : new Path[] {volumeRoot, datapathRoot}) {
            dir.register(watch, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_DELETE,
                    StandardWatchEventKinds.ENTRY_MODIFY);
        }
        this.thread = new Thread(this::loop, "smapiv3-plugin-watcher");
        this.thread.setDaemon(true);
    }

    /** Does a first full rescan on the calling thread (so plugins are served on return), then watches. */
    public static PluginWatcher start(Path root, Listener listener, Duration rescanPeriod) throws IOException {
        PluginWatcher w = new PluginWatcher(root, listener, rescanPeriod);
        w.rescan();
        w.thread.start();
        return w;
    }

    private void loop() {
        while (running) {
            try {
                WatchKey key = watch.poll(rescanPeriod.toMillis(), TimeUnit.MILLISECONDS);
                if (key != null) {
                    // drain the burst: one rescan covers every event in it
                    do {
                        for (WatchEvent<?> e : key.pollEvents()) {
                            LOG.debug("plugin dir event {} {}", e.kind(), e.context());
                        }
                        if (!key.reset()) {
                            LOG.error("lost the watch on {}; relying on periodic rescans", key.watchable());
                        }
                        key = watch.poll();
                    } while (key != null);
                }
                rescan();
            } catch (ClosedWatchServiceException | InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                // supervised as upstream: log, pause, carry on with a full rescan
                LOG.error("plugin watcher failed; rescanning in 5 s", e);
                sleepQuietly(5000);
            }
        }
    }

    /** One full rescan of both directories: create what is new, destroy what vanished. */
    synchronized void rescan() {
        Map<String, Path> nowVolumes = new TreeMap<>();
        for (Path dir : directories(volumeRoot)) {
            String dirName = dir.getFileName().toString();
            Optional<String> plugin = PluginNames.volumePlugin(dirName);
            if (plugin.isEmpty()) {
                warnOnce(dir, "ignoring volume plugin directory {}: not a usable plugin name");
                continue;
            }
            Path previous = nowVolumes.putIfAbsent(plugin.get(), dir);
            if (previous != null) {
                LOG.warn("volume plugin directories {} and {} both name plugin {}; serving the first",
                        previous, dir, plugin.get());
            }
        }
        for (Map.Entry<String, Path> e : Map.copyOf(volumes).entrySet()) {
            if (!e.getValue().equals(nowVolumes.get(e.getKey()))) {
                volumes.remove(e.getKey());
                safely(() -> listener.volumePluginRemoved(e.getKey()));
            }
        }
        nowVolumes.forEach((plugin, dir) -> {
            if (!volumes.containsKey(plugin)) {
                volumes.put(plugin, dir);
                safely(() -> listener.volumePluginAdded(plugin, dir));
            }
        });

        Set<String> seen = new HashSet<>();
        for (Path dir : directories(datapathRoot)) {
            String scheme = dir.getFileName().toString();
            if (!PluginNames.isScheme(scheme)) {
                warnOnce(dir, "ignoring datapath plugin directory {}: not a URI scheme");
                continue;
            }
            seen.add(scheme);
            String contents = fingerprint(dir);
            if (!contents.equals(datapaths.get(scheme))) {
                datapaths.put(scheme, contents);
                safely(() -> listener.datapathChanged(scheme, dir));
            }
        }
        for (String scheme : Set.copyOf(datapaths.keySet())) {
            if (!seen.contains(scheme)) {
                datapaths.remove(scheme);
                safely(() -> listener.datapathRemoved(scheme));
            }
        }
        safely(listener::rescanned);
    }

    private void warnOnce(Path dir, String message) {
        if (warned.add(dir)) {
            LOG.warn(message, dir);
        }
    }

    /**
     * The plugin directories under {@code root}: one (or a symlink) whose real path leaves the plugin root
     * is refused, as SM drivers that leave their directory are.
     */
    private Iterable<Path> directories(Path root) {
        Set<Path> out = new java.util.TreeSet<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(root)) {
            Path realRoot = root.getParent().toRealPath();
            for (Path p : entries) {
                if (!Files.isDirectory(p)) {
                    continue;
                }
                Path real;
                try {
                    real = p.toRealPath();
                } catch (IOException gone) {
                    continue; // removed (or a dangling link) while listed
                }
                if (!real.startsWith(realRoot)) {
                    warnOnce(p, "refusing plugin directory {}: its real path leaves " + realRoot + " (" + real + ")");
                    continue;
                }
                out.add(p);
            }
        } catch (IOException e) {
            LOG.error("cannot list {}: {}", root, e.toString());
        }
        return out;
    }

    /**
     * What a datapath directory holds: each entry's name, size and mtime. The directory's own mtime is not
     * enough: timestamps are coarse (a kernel tick), and a script added in the same tick as a reading leaves
     * it as read, so the script would never be seen.
     */
    private static String fingerprint(Path dir) {
        Set<String> entries = new TreeSet<>();
        try (DirectoryStream<Path> listing = Files.newDirectoryStream(dir)) {
            for (Path p : listing) {
                try {
                    BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
                    entries.add(p.getFileName() + "\0" + a.size() + "\0" + a.lastModifiedTime().toMillis());
                } catch (IOException gone) {
                    // removed while listed: the next rescan sees the directory without it
                }
            }
        } catch (IOException e) {
            return "unreadable: " + e.getMessage();
        }
        return String.join("\n", entries);
    }

    private static void safely(Runnable r) {
        try {
            r.run();
        } catch (RuntimeException e) {
            LOG.error("plugin change failed", e);
        }
    }

    private static void sleepQuietly(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        running = false;
        try {
            watch.close();
        } catch (IOException e) {
            LOG.debug("closing the watch service: {}", e.toString());
        }
        thread.interrupt();
        try {
            thread.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
