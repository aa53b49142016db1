package org.xenstorage.daemon.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DpInfoStoreTest {
    @TempDir
    Path dir;

    @Test
    void namesThatUpstreamWouldConfuseStayApartAndSurviveAReopen() throws Exception {
        DpInfoStore s = DpInfoStore.open(dir.resolve("dps"));
        s.put("vbd/3/xvda", new DpInfo("sr1", "v1", "3", true));
        s.put("vbd-3-xvda", new DpInfo("sr2", "v2", "4", false));
        s.put("..", new DpInfo("sr3", "v3", "5", true));
        s.put("", new DpInfo("sr4", "v4", "6", true));
        DpInfoStore again = DpInfoStore.open(dir.resolve("dps"));
        assertEquals(Optional.of(new DpInfo("sr1", "v1", "3", true)), again.get("vbd/3/xvda"));
        assertEquals(Optional.of(new DpInfo("sr2", "v2", "4", false)), again.get("vbd-3-xvda"));
        assertEquals("sr3", again.get("..").orElseThrow().sr());
        assertEquals("sr4", again.get("").orElseThrow().sr());
        try (var files = Files.list(dir.resolve("dps"))) {
            assertEquals(4, files.count(), "one file per dp, all inside the directory");
        }
        again.remove("vbd/3/xvda");
        assertTrue(DpInfoStore.open(dir.resolve("dps")).get("vbd/3/xvda").isEmpty());
    }

    @Test
    void upstreamFileContentIsReadAndAnUnreadableFileCountsAsMissing() throws Exception {
        Path d = dir.resolve("dps");
        Files.createDirectories(d);
        Files.writeString(d.resolve("dp-a"), "{\"vm\":\"0\",\"vdi\":\"v\",\"sr\":\"s\"}");
        Files.writeString(d.resolve("dp-b"), "garbage");
        DpInfoStore s = DpInfoStore.open(d);
        assertEquals(Optional.of(new DpInfo("s", "v", "0", true)), s.get("a"), "read_write defaults to true");
        assertTrue(s.get("b").isEmpty());
    }
}
