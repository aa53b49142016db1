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

    private PluginWatcher start() throws Exception {
        return PluginWatcher.start(root, new PluginWatcher.Listener() {
            @Override
            public void volumePluginAdded(String plugin, Path dir) {
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
}
