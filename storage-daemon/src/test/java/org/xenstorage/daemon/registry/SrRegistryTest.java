package org.xenstorage.daemon.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SrRegistryTest {
    @TempDir
    Path dir;

    SrBinding binding(String sr, String type) {
        return new SrBinding(sr, type, "q." + type, "dom0", List.of("VDI_CREATE", "VDI_ACTIVATE_READONLY/2"), "SMAPIv3");
    }

    @Test
    void changesArePersistedPrivatelyAndReloaded() throws Exception {
        Path file = dir.resolve("mux/registry.json");
        SrRegistry r = SrRegistry.load(file);
        r.register(binding("s1", "ext"));
        r.register(binding("s2", "simplefile"));
        r.unregister("s2");
        r.unregister("never-registered");
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        SrRegistry again = SrRegistry.load(file);
        assertEquals(List.of("s1"), again.srs());
        assertEquals(binding("s1", "ext"), again.lookup("s1").orElseThrow());
        assertTrue(again.lookup("s1").orElseThrow().hasFeature("vdi_activate_readonly"));
        assertFalse(again.lookup("s1").orElseThrow().hasFeature("VDI_RESIZE"));
    }

    @Test
    void aCorruptFileIsSetAsideAndTheRegistryStartsEmpty() throws Exception {
        Path file = dir.resolve("registry.json");
        Files.writeString(file, "{not json");
        SrRegistry r = SrRegistry.load(file);
        assertTrue(r.srs().isEmpty());
        try (var files = Files.list(dir)) {
            assertTrue(files.anyMatch(f -> f.getFileName().toString().startsWith("registry.json.corrupt-")));
        }
        r.register(binding("s1", "ext"));
        assertEquals(List.of("s1"), SrRegistry.load(file).srs());
    }

    @Test
    void aTypeWithAPathInItIsRejectedOnLoad() throws Exception {
        Path file = dir.resolve("registry.json");
        Files.writeString(file, "{\"version\":1,\"srs\":{\"s1\":{\"sr_type\":\"../../bin\",\"queue\":\"x\"}}}");
        assertTrue(SrRegistry.load(file).srs().isEmpty());
    }

    @Test
    void typeSyntax() {
        for (String ok : List.of("ext", "simplefile", "gfs2", "a.b", "x_y-z")) {
            assertTrue(SrRegistry.validType(ok), ok);
        }
        for (String bad : List.of("", ".", "..", "a..b", "../x", "a/b", "-x", ".x", "a b", "é")) {
            assertFalse(SrRegistry.validType(bad), bad);
        }
    }
}
