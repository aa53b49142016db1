package org.xenstorage.daemon.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {
    @TempDir
    Path dir;

    DaemonConfig load(Path mainFile, String... args) throws ConfigException {
        return ConfigLoader.load(ConfigLoader.parseArgs(args), mainFile);
    }

    @Test
    void withoutAConfigFileTheDaemonIsEmbeddedWithStateUnderVar() throws Exception {
        DaemonConfig c = load(dir.resolve("absent.conf"));
        assertEquals(Mode.EMBEDDED, c.mode());
        assertEquals(Path.of("./var"), c.stateDir());
        assertEquals(Path.of("./var/message-switch.sock"), c.switchPath());
        assertEquals(Path.of("examples/sm"), c.smDir());
        assertEquals(Path.of("examples/smapiv3"), c.pluginRoot());
        assertEquals("org.xen.xapi.storage", c.queuePrefix());
        assertTrue(c.smapiv1() && c.smapiv3());
        assertEquals(Role.ALL, c.role());
        assertTrue(c.killOnTimeout(), "embedded: a driver past its timeout is killed");
        assertEquals(java.time.Duration.ofSeconds(30), c.fanoutTimeout());
        DaemonConfig moved = load(dir.resolve("absent.conf"), "--state-dir=/tmp/x");
        assertEquals(Path.of("/tmp/x/message-switch.sock"), moved.switchPath(), "the socket follows state-dir");
    }

    @Test
    void theInstalledLauncherPointsEmbeddedModeAtThePackagedExamples() throws Exception {
        String key = "xenstorage.examplesDir";
        String before = System.getProperty(key);
        System.setProperty(key, "/usr/lib/xapi-storage-daemon/examples");
        try {
            DaemonConfig c = load(dir.resolve("absent.conf"));
            assertEquals(Path.of("/usr/lib/xapi-storage-daemon/examples/sm"), c.smDir());
            assertEquals(Path.of("/usr/lib/xapi-storage-daemon/examples/smapiv3"), c.pluginRoot());
            assertEquals(Path.of("/flag"), load(dir.resolve("absent.conf"), "--sm-dir=/flag").smDir(), "a flag wins");
            DaemonConfig host = load(dir.resolve("absent.conf"), "--mode=host");
            assertEquals(Path.of("/usr/libexec/sm/drivers"), host.smDir(), "host mode never serves the examples");
            assertEquals(Path.of("/usr/libexec/xapi-storage-script"), host.pluginRoot());
        } finally {
            if (before == null) {
                System.clearProperty(key);
            } else {
                System.setProperty(key, before);
            }
        }
    }

    @Test
    void aConfigFileMeansHostModeWithHostPaths() throws Exception {
        Path f = dir.resolve("d.conf");
        Files.writeString(f, "# host\nqueue-prefix = test.storage\n");
        DaemonConfig c = load(f);
        assertEquals(Mode.HOST, c.mode());
        assertEquals(Path.of("/var/run/message-switch/sock"), c.switchPath());
        assertEquals(Path.of("/usr/libexec/sm/drivers"), c.smDir());
        assertEquals("test.storage", c.queuePrefix());
        // issue 13.5: upstream never kills an SM driver (a snapshot or coalesce killed mid-journal is worse)
        assertFalse(c.killOnTimeout(), "host: a driver past its timeout is only reported");
        assertTrue(load(f, "--kill-on-timeout=true").killOnTimeout());
    }

    @Test
    void attachStateLivesOnTheHostsTmpfsAndWithTheRestWhenEmbedded() throws Exception {
        DaemonConfig embedded = load(dir.resolve("absent.conf"), "--state-dir=/tmp/x");
        assertEquals(Path.of("/tmp/x"), embedded.runDir());
        assertEquals(Path.of("/tmp/x/smapiv3/state.db"), embedded.smapiv3State());
        assertEquals(Path.of("/proc/sys/kernel/random/boot_id"), embedded.bootIdFile());
        DaemonConfig host = load(dir.resolve("absent.conf"), "--mode=host");
        assertEquals(Path.of("/var/lib/xapi-storage-daemon"), host.stateDir());
        assertEquals(Path.of("/var/run/nonpersistent/xapi-storage-daemon"), host.runDir());
        assertEquals(Path.of("/var/run/nonpersistent/xapi-storage-daemon/smapiv3/state.db"), host.smapiv3State());
        DaemonConfig moved = load(dir.resolve("absent.conf"), "--mode=host", "--run-dir=/r", "--boot-id-file=/b");
        assertEquals(Path.of("/r/smapiv3/state.db"), moved.smapiv3State());
        assertEquals(Path.of("/b"), moved.bootIdFile());
    }

    @Test
    void theBridgeRoleTakesXapiStorageScriptsFlagsAndDefaults() throws Exception {
        DaemonConfig c = load(dir.resolve("absent.conf"), "--role=smapiv3-bridge", "--mode=host");
        assertEquals(Path.of("/usr/libexec/xapi-storage-script"), c.pluginRoot());
        assertEquals(Path.of("/var/run/nonpersistent/xapi-storage-script/state.db"), c.smapiv3State());
        assertEquals(Path.of("/var/run/message-switch/sock"), c.switchPath());
        DaemonConfig flags = load(dir.resolve("absent.conf"), "--role=smapiv3-bridge", "--mode=host", "--root=/p",
                "--state=/s/state.db", "--switch-path=/sock");
        assertEquals(Path.of("/p"), flags.pluginRoot());
        assertEquals(Path.of("/s/state.db"), flags.smapiv3State());
        assertEquals(Path.of("/sock"), flags.switchPath());
        Path f = dir.resolve("b.conf");
        Files.writeString(f, "root=/from-file\n");
        assertEquals(Path.of("/from-file"), load(f).pluginRoot(), "root= in a file too");
        ConfigException e = assertThrows(ConfigException.class,
                () -> load(dir.resolve("absent.conf"), "--state=/s/other.db"));
        assertTrue(e.getMessage().contains("state.db"), e.getMessage());
    }

    @Test
    void flagsWinOverDropInsWhichWinOverTheFileInNameOrder() throws Exception {
        Path f = dir.resolve("d.conf");
        Files.writeString(f, "mode=embedded\nworkers=3\ncall-timeout=10\nsm-dir=/file\nplugin-root=/file\n");
        Files.createDirectories(dir.resolve("d.conf.d"));
        Files.writeString(dir.resolve("d.conf.d/20-b.conf"), "workers=5\nsm-dir=/b\n");
        Files.writeString(dir.resolve("d.conf.d/10-a.conf"), "workers=4\nsm-dir=/a\nplugin-root=/a\n");
        Files.writeString(dir.resolve("d.conf.d/ignored.txt"), "workers=99\n");
        DaemonConfig c = load(f, "--sm-dir", "/flag", "--call-timeout=500ms");
        assertEquals(5, c.workers());
        assertEquals(Path.of("/flag"), c.smDir());
        assertEquals(Path.of("/a"), c.pluginRoot());
        assertEquals(Duration.ofMillis(500), c.callTimeout());
        assertEquals("flag", c.sources().get("sm-dir"));
        assertTrue(c.sources().get("workers").endsWith("20-b.conf"));
        assertEquals(Mode.EMBEDDED, c.mode());
    }

    @Test
    void theConfigFlagPointsElsewhere() throws Exception {
        Path f = dir.resolve("other.conf");
        Files.writeString(f, "smapiv1=false\nrole=smapiv3-bridge\n");
        DaemonConfig c = ConfigLoader.load(ConfigLoader.parseArgs(new String[] {"--config=" + f}),
                dir.resolve("absent.conf"));
        assertFalse(c.smapiv1());
        assertEquals(Role.SMAPIV3_BRIDGE, c.role());
        assertThrows(ConfigException.class, () -> ConfigLoader.load(
                ConfigLoader.parseArgs(new String[] {"--config=" + dir.resolve("nope.conf")}), f));
    }

    @Test
    void anEmbeddedDaemonCanBeAPoolMemberWithSharedSrTypes() throws Exception {
        DaemonConfig alone = load(dir.resolve("absent.conf"));
        assertEquals(java.util.Optional.empty(), alone.poolMaster());
        assertEquals(java.util.Set.of(), alone.sharedSrTypes());
        DaemonConfig member = load(dir.resolve("absent.conf"), "--pool-master=192.0.2.10",
                "--shared-sr-types= localfile, NFS ,");
        assertEquals(java.util.Optional.of("192.0.2.10"), member.poolMaster());
        assertEquals(java.util.Set.of("localfile", "nfs"), member.sharedSrTypes());
        assertThrows(ConfigException.class, () -> load(dir.resolve("absent.conf"), "--pool-master=a b"));
        // on a host xapi knows the pool: the keys would only contradict it
        Path f = dir.resolve("host.conf");
        Files.writeString(f, "pool-master=192.0.2.10\n");
        assertTrue(assertThrows(ConfigException.class, () -> load(f)).getMessage().contains("embedded mode only"));
    }

    @Test
    void badInputIsAClearError() throws Exception {
        Path f = dir.resolve("bad.conf");
        Files.writeString(f, "no-such-key=1\n");
        assertTrue(assertThrows(ConfigException.class, () -> load(f)).getMessage().contains("no-such-key"));
        assertThrows(ConfigException.class, () -> load(dir.resolve("x"), "--bogus=1"));
        assertThrows(ConfigException.class, () -> load(dir.resolve("x"), "--mode=cloud"));
        assertThrows(ConfigException.class, () -> load(dir.resolve("x"), "--workers=0"));
        assertThrows(ConfigException.class, () -> load(dir.resolve("x"), "--call-timeout=soon"));
        assertThrows(ConfigException.class, () -> load(dir.resolve("x"), "--smapiv1=maybe"));
        assertThrows(ConfigException.class, () -> load(dir.resolve("x"), "--queue-prefix=../x"));
        assertThrows(ConfigException.class, () -> load(dir.resolve("x"), "positional"));
        assertThrows(ConfigException.class, () -> load(dir.resolve("x"), "--state-dir"));
        Files.writeString(f, "just a line\n");
        assertThrows(ConfigException.class, () -> load(f));
    }

    @Test
    void smapiv1DriverEnvironmentNbdPreferenceAndInventory() throws Exception {
        Path f = dir.resolve("d.conf");
        Files.writeString(f, "sm-env.PYTHONPATH=/opt/xensource/sm:/usr/lib/sm\nprefer-nbd-attach=yes\n"
                + "inventory-file=/etc/xensource-inventory\n");
        DaemonConfig c = load(f, "--sm-env.SM_DEBUG=1");
        assertEquals(java.util.Map.of("PYTHONPATH", "/opt/xensource/sm:/usr/lib/sm", "SM_DEBUG", "1"),
                c.smEnvironment());
        assertTrue(c.preferNbdAttach());
        assertEquals(java.util.Optional.of(Path.of("/etc/xensource-inventory")), c.inventoryFile());
        DaemonConfig plain = load(dir.resolve("absent.conf"));
        assertEquals(java.util.Map.of(), plain.smEnvironment());
        assertFalse(plain.preferNbdAttach(), "xapi's default");
        assertEquals(java.util.Optional.empty(), plain.inventoryFile());
        assertThrows(ConfigException.class, () -> load(f, "--sm-env.XAPI_LOCAL_SOCKET=/x"));
        assertThrows(ConfigException.class, () -> load(f, "--sm-env.1BAD=x"));
        assertThrows(ConfigException.class, () -> load(f, "--sm-env.<NAME>=x"));
    }

    @Test
    void theRemoteEndpointListensOnlyWithAPortAndATokenFile() throws Exception {
        Path absent = dir.resolve("absent.conf");
        assertEquals(java.util.Optional.empty(), load(absent).remote(), "off unless remote-listen is set");
        RemoteEndpointConfig r = load(absent, "--remote-listen=8443", "--remote-token-file=/etc/token").remote()
                .orElseThrow();
        assertEquals("127.0.0.1", r.address(), "loopback unless an address is given");
        assertEquals(8443, r.port());
        assertEquals(Path.of("/etc/token"), r.tokenFile());
        assertFalse(r.tls());
        RemoteEndpointConfig all = load(absent, "--remote-listen=10.0.0.5:443", "--remote-token-file=/t",
                "--remote-tls-cert=/c.pem", "--remote-tls-key=/k.pem").remote().orElseThrow();
        assertEquals("10.0.0.5", all.address());
        assertTrue(all.tls());
        assertEquals("::1", load(absent, "--remote-listen=[::1]:9000", "--remote-token-file=/t").remote()
                .orElseThrow().address());
        assertEquals("0.0.0.0", load(absent, "--remote-listen=0.0.0.0:9000", "--remote-token-file=/t").remote()
                .orElseThrow().address());

        String missing = assertThrows(ConfigException.class, () -> load(absent, "--remote-listen=8443")).getMessage();
        assertTrue(missing.contains("remote-token-file"), missing);
        for (String bad : java.util.List.of("0", "65536", "host:", "::1:80", "a b:80", "x")) {
            assertThrows(ConfigException.class, () -> load(absent, "--remote-listen=" + bad, "--remote-token-file=/t"),
                    bad);
        }
        assertThrows(ConfigException.class, () -> load(absent, "--remote-listen=1", "--remote-token-file=/t",
                "--remote-tls-cert=/c.pem"));
        assertThrows(ConfigException.class, () -> load(absent, "--remote-token-file=/t"),
                "a token file without remote-listen is a mistake, not a silent no-op");
    }
}
