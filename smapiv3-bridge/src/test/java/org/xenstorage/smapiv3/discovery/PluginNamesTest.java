package org.xenstorage.smapiv3.discovery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.xenstorage.smapiv3.translation.DatapathChoice;

/** Names that reach a path to run: only plain plugin names and URI schemes pass. */
class PluginNamesTest {
    @Test
    void volumePluginDirectoriesMapToSrTypes() {
        assertEquals(Optional.of("gfs2"), PluginNames.volumePlugin("org.xen.xapi.storage.gfs2"));
        assertEquals(Optional.of("simplefile"), PluginNames.volumePlugin("simplefile"));
        assertEquals(Optional.of("a-b_c+1"), PluginNames.volumePlugin("a-b_c+1"));
        for (String bad : new String[] {"", ".", "..", "a.b", "org.xen.xapi.storage.", "-x", ".hidden", "a b",
            "a/b", "x".repeat(65)}) {
            assertEquals(Optional.empty(), PluginNames.volumePlugin(bad), bad);
        }
        assertEquals("org.example.storage.gfs2", PluginNames.queue("org.example.storage", "gfs2"));
    }

    @Test
    void datapathDirectoriesMustBeUriSchemes() {
        for (String ok : new String[] {"file", "blkback", "raw+file", "nbd.v2", "x-1"}) {
            assertTrue(PluginNames.isScheme(ok), ok);
        }
        for (String bad : new String[] {"", "..", "1abc", "a/b", ".x", "a b", "+x"}) {
            assertFalse(PluginNames.isScheme(bad), bad);
        }
    }

    @Test
    void uriSchemesAsRfc3986AppendixB() {
        assertEquals(Optional.of("blk"), DatapathChoice.scheme("blk:///dev/sda"));
        assertEquals(Optional.of("nope"), DatapathChoice.scheme("nope://x"));
        assertEquals(Optional.of("raw+file"), DatapathChoice.scheme("raw+file:///tmp/disk.raw"));
        assertEquals(Optional.empty(), DatapathChoice.scheme("/dev/sda"));
        assertEquals(Optional.empty(), DatapathChoice.scheme("../../bin/sh:x"));
        assertEquals("u0_vbd_0_xvda", DatapathChoice.domain("0", "vbd/0/xvda"));
        assertEquals("u0_a_b", DatapathChoice.domain("0", "a-b"));
        assertEquals("7", DatapathChoice.domain("7", "vbd/7/xvda"));
    }
}
