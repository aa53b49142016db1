package org.xenstorage.smapiv1.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.exec.ChildProcessRunner;
import org.xenstorage.smapiv1.exec.DriverExec;
import org.xenstorage.testing.Soon;

/** Discovery over a real directory of real executables, good and bad. */
class DriverDiscoveryTest {
    private static final String GOOD = """
            #!/usr/bin/python3
            import sys, xmlrpc.client
            p, m = xmlrpc.client.loads(sys.argv[1])
            print(xmlrpc.client.dumps(({"name": "n", "description": "d", "vendor": "v", "copyright": "c",
                "driver_version": "1", "required_api_version": "1.0", "capabilities": ["VDI_CREATE/3", "SR_PROBE",
                "ATOMIC_PAUSE", "VDI_CREATE"], "configuration": [{"key": "k", "description": "kd"}]},),
                methodresponse=True))
            """;
    private static final String NO_VENDOR = """
            #!/usr/bin/python3
            import xmlrpc.client
            print(xmlrpc.client.dumps(({"name": "n", "description": "d", "copyright": "c", "driver_version": "1",
                "required_api_version": "1.0", "capabilities": [], "configuration": []},), methodresponse=True))
            """;
    private static final String BROKEN = "#!/usr/bin/python3\nimport no_such_module\n";

    @TempDir
    Path tmp;
    Path smDir;
    ChildProcessRunner runner;
    DriverExec exec;

    @BeforeEach
    void setUp() throws Exception {
        smDir = Files.createDirectories(tmp.resolve("sm"));
        runner = new ChildProcessRunner();
        exec = new DriverExec(runner, Soon.timeout(), Map.of(), 1 << 20);
    }

    @AfterEach
    void tearDown() {
        runner.close();
    }

    private Path script(Path dir, String name, String text, String mode) throws Exception {
        Path p = dir.resolve(name);
        Files.writeString(p, text);
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(mode));
        return p;
    }

    @Test
    void acceptsOnlyPlainExecutableDriversInsideTheDirectory() throws Exception {
        script(smDir, "GoodSR", GOOD, "rwxr-xr-x");
        script(smDir, "lowerSR", GOOD, "rwxr-xr-x");
        script(smDir, "NoexecSR", GOOD, "rw-r--r--");
        script(smDir, "bad.nameSR", GOOD, "rwxr-xr-x");
        script(smDir, "Bad-NameSR", GOOD, "rwxr-xr-x");
        script(smDir, "GoodSR.py", GOOD, "rwxr-xr-x");
        script(smDir, "BrokenSR", BROKEN, "rwxr-xr-x");
        script(smDir, "NoVendorSR", NO_VENDOR, "rwxr-xr-x");
        Files.createDirectory(smDir.resolve("DirSR"));
        Path outside = script(Files.createDirectories(tmp.resolve("elsewhere")), "OutsideSR", GOOD, "rwxr-xr-x");
        Files.createSymbolicLink(smDir.resolve("EscapeSR"), outside);
        Files.createSymbolicLink(smDir.resolve("AliasSR"), smDir.resolve("GoodSR"));
        Files.createSymbolicLink(smDir.resolve("DanglingSR"), smDir.resolve("nothing"));

        DriverDiscovery.Scan scan = new DriverDiscovery(smDir, Set.of("*"), exec, "OpaqueRef:h").scan();

        assertEquals(Set.of("good", "lower", "alias"), scan.drivers().keySet());
        SmDriver good = scan.drivers().get("good");
        assertEquals("Good", good.prefix());
        assertEquals(smDir.resolve("GoodSR"), good.executable());
        // unknown ATOMIC_PAUSE dropped, duplicates merged keeping the first, sorted by name
        assertEquals(List.of(new Feature("SR_PROBE", 1), new Feature("VDI_CREATE", 3)), good.info().features());
        assertEquals(Map.of("k", "kd"), good.info().configuration());
        assertEquals("not executable", scan.rejected().get("NoexecSR"));
        assertTrue(scan.rejected().get("bad.nameSR").startsWith("name is not"));
        assertTrue(scan.rejected().get("Bad-NameSR").startsWith("name is not"));
        assertEquals("not a regular file", scan.rejected().get("DirSR"));
        assertTrue(scan.rejected().get("EscapeSR").startsWith("symlink leads outside"));
        assertTrue(scan.rejected().get("DanglingSR").startsWith("cannot resolve"));
        assertTrue(scan.rejected().get("BrokenSR").contains("non-zero exit"), scan.rejected().get("BrokenSR"));
        assertTrue(scan.rejected().get("NoVendorSR").contains("vendor"), scan.rejected().get("NoVendorSR"));
        assertFalse(scan.rejected().containsKey("GoodSR.py"), "not a candidate at all");
    }

    @Test
    void honoursTheAllowList() throws Exception {
        script(smDir, "GoodSR", GOOD, "rwxr-xr-x");
        script(smDir, "OtherSR", GOOD, "rwxr-xr-x");
        DriverDiscovery.Scan scan = new DriverDiscovery(smDir, Set.of("other"), exec, "OpaqueRef:h").scan();
        assertEquals(Set.of("other"), scan.drivers().keySet());
        assertEquals("not on the allow-list", scan.rejected().get("GoodSR"));
    }

    @Test
    void aMissingDirectoryRegistersNothing() {
        DriverDiscovery.Scan scan = new DriverDiscovery(tmp.resolve("absent"), Set.of("*"), exec, "h").scan();
        assertTrue(scan.drivers().isEmpty());
    }

    @Test
    void featureVersionsParseAsXapiDoes() {
        assertEquals(new Feature("VDI_RESET_ON_BOOT", 2), Feature.parse("VDI_RESET_ON_BOOT/2"));
        assertEquals(new Feature("VDI_CREATE", 1), Feature.parse("VDI_CREATE/x"));
        assertEquals(new Feature("VDI_CREATE", 1), Feature.parse("VDI_CREATE/0"));
        assertNull(Feature.parse("ATOMIC_PAUSE"));
        assertEquals("VDI_CREATE/1", Feature.parse("VDI_CREATE").text());
    }
}
