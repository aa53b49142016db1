package org.xenstorage.smapiv3.discovery;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The watcher's rescans, called directly (no periodic rescan in these tests). */
class PluginWatcherTest {
    @TempDir
    Path root;

    private final List<String> changed = new CopyOnWriteArrayList<>();
    private final List<String> added = new CopyOnWriteArrayList<>();

    private PluginWatcher start() throws Exception {
        return start(root);
    }

    private PluginWatcher start(Path pluginRoot) throws Exception {
        return PluginWatcher.start(pluginRoot, new PluginWatcher.Listener() {
            @Override
            public void volumePluginAdded(String plugin, Path dir) {
                added.add(plugin);
            }

            @Override
            public void volumePluginRemoved(String plugin) {
            }

            @Override
            public void datapathChanged(String scheme, Path dir) {
                changed.add(scheme);
            }

            @Override
            public void datapathRemoved(String scheme) {
            }
        }, Duration.ofHours(1));
    }

    /**
     * Regression: a script added in the same clock tick as a rescan's reading of the directory's mtime leaves
     * the mtime as read, and the watcher, comparing mtimes only, never saw the script. The directory's mtime
     * is pinned here to stand for that tick whatever the machine's load.
     */
    @Test
    void aScriptAddedInTheTickOfTheLastReadingIsStillSeen() throws Exception {
        Files.createDirectories(root.resolve("volume"));
        Path file = Files.createDirectories(root.resolve("datapath").resolve("file"));
        FileTime tick = FileTime.from(Instant.now().plusSeconds(3600));
        Files.setLastModifiedTime(file, tick);
        try (PluginWatcher w = start()) {
            assertEquals(List.of("file"), changed);
            Files.writeString(file.resolve("Datapath.attach"), "#!/bin/sh\n");
            Files.setLastModifiedTime(file, tick); // the same tick: the mtime did not move
            w.rescan();
            // the watcher's own thread may be the one to see it (the mtime change is an event on datapath/):
            // either way it is registered again exactly once
            assertEquals(List.of("file", "file"), changed, "the new script re-registers the datapath");
        }
    }

    @Test
    void aSettledDirectoryIsNotRegisteredAgain() throws Exception {
        Files.createDirectories(root.resolve("volume"));
        Path file = Files.createDirectories(root.resolve("datapath").resolve("file"));
        Files.setLastModifiedTime(file, FileTime.from(Instant.now().minusSeconds(60)));
        try (PluginWatcher w = start()) {
            w.rescan();
            w.rescan();
            assertEquals(List.of("file"), changed, "nothing changed: no extra Plugin.Query");
        }
    }

    /**
     * Issue 13.8: a plugin directory symlinked out of the plugin root is refused (SM drivers already were).
     * Before the fix, the linked volume plugin was added and its scripts ran.
     */
    @Test
    void pluginDirectoriesSymlinkedOutOfThePluginRootAreRefused() throws Exception {
        Path plugins = root.resolve("plugins");
        Files.createDirectories(plugins.resolve("volume").resolve("org.xen.xapi.storage.inside"));
        Files.createDirectories(plugins.resolve("datapath"));
        Path outside = Files.createDirectories(root.resolve("outside"));
        Files.writeString(outside.resolve("Plugin.Query"), "#!/bin/sh\n");
        Files.createSymbolicLink(plugins.resolve("volume").resolve("org.xen.xapi.storage.linked"), Path.of("../../outside"));
        Files.createSymbolicLink(plugins.resolve("datapath").resolve("linked"), Path.of("../../outside"));
        // a link that stays inside the root is served
        Files.createDirectories(plugins.resolve("shared").resolve("nbd"));
        Files.createSymbolicLink(plugins.resolve("datapath").resolve("nbd"), Path.of("../shared/nbd"));
        try (PluginWatcher w = start(plugins)) {
            assertEquals(List.of("inside"), added);
            assertEquals(List.of("nbd"), changed);
        }
    }
}
