package org.xenstorage.migrate.remote;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** xapi's URL form parsed, the token kept out of every text that may be shown, and the NBD paths' grammar. */
class RemoteUrlTest {
    static final String TOKEN = "s3cr3t-t0ken-0123456789";

    @Test
    void xapisFormGivesHostPortAndTheTokenAsSessionId() {
        RemoteUrl u = RemoteUrl.parse("http://10.0.0.2/services/SM?session_id=" + TOKEN);
        assertFalse(u.tls());
        assertEquals("10.0.0.2", u.host());
        assertEquals(80, u.port());
        assertEquals(TOKEN, u.token());
        RemoteUrl s = RemoteUrl.parse("HTTPS://host.example:8443/services/SM/?session_id=OpaqueRef%3Aabc-123-456-789");
        assertTrue(s.tls());
        assertEquals(8443, s.port());
        assertEquals("OpaqueRef:abc-123-456-789", s.token());
        assertEquals(443, RemoteUrl.parse("https://h/services/SM?session_id=" + TOKEN).port());
        RemoteUrl v6 = RemoteUrl.parse("http://[::1]:9000/services/SM?session_id=" + TOKEN);
        assertEquals("::1", v6.host());
        assertEquals("[::1]:9000", v6.authority());
    }

    @Test
    void theTokenIsNeverShown() {
        RemoteUrl u = RemoteUrl.parse("https://h:1/services/SM?session_id=" + TOKEN);
        assertEquals("https://h:1/services/SM?session_id=(hidden)", u.redacted());
        assertEquals(u.redacted(), u.toString());
        assertEquals("PUT (hidden) and (hidden)", u.scrub("PUT " + TOKEN + " and " + TOKEN));
        RemoteUrl odd = RemoteUrl.parse("http://h/services/SM?session_id=a%2Fb%3Dc%26d-0123456789abcdef");
        assertEquals("a/b=c&d-0123456789abcdef", odd.token());
        assertTrue(odd.requestTarget("/x").endsWith("session_id=a%2Fb%3Dc%26d-0123456789abcdef"));
        assertEquals("x (hidden) y (hidden)", odd.scrub("x a/b=c&d-0123456789abcdef y a%2Fb%3Dc%26d-0123456789abcdef"));
    }

    @Test
    void everyOtherShapeIsRefusedWithoutEchoingTheUrl() {
        for (String bad : List.of(
                "ftp://h/services/SM?session_id=" + TOKEN,
                "http://user:" + TOKEN + "@h/services/SM?session_id=" + TOKEN,
                "http://h/services/SM?session_id=" + TOKEN + "#" + TOKEN,
                "http://h/services/XX?session_id=" + TOKEN,
                "http://h/services/SM",
                "http://h/services/SM?session_id=",
                "http://h/services/SM?session_id=" + TOKEN + "&session_id=" + TOKEN,
                "http://h/services/SM?pool_secret=" + TOKEN,
                "http://h/services/SM?session_id=" + TOKEN + "&x=" + TOKEN,
                "http://h/services/SM?session_id=%zz" + TOKEN,
                "http:// h/services/SM?session_id=" + TOKEN,
                "/services/SM?session_id=" + TOKEN)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RemoteUrl.parse(bad), bad);
            assertFalse(e.getMessage().contains(TOKEN), e.getMessage());
            assertTrue(e.getMessage().startsWith("invalid remote URL: "), e.getMessage());
        }
    }

    @Test
    void nbdPathsRoundTripAnyDatapathName() {
        RemoteNbdPath p = RemoteNbdPath.nbd("vm 1", "sr-1", "vdi+x", "vbd/3/xvda");
        assertEquals("/services/SM/nbd/vm%201/sr-1/vdi%2Bx/vbd%2F3%2Fxvda", p.path());
        assertEquals(Optional.of(p), RemoteNbdPath.parse(p.path()));
        RemoteNbdPath q = RemoteNbdPath.nbdProxyImport("0", "s", "v", "d");
        assertEquals("/services/SM/nbdproxy/import/0/s/v/d", q.path());
        assertEquals(Optional.of(q), RemoteNbdPath.parse(q.path()));
        // upstream's other forms
        assertEquals(Optional.of(RemoteNbdPath.nbd("0", "s", "v", "d")), RemoteNbdPath.parse("/services/SM/nbd/s/v/d"));
        assertEquals(Optional.of(q), RemoteNbdPath.parse("/services/SM/nbdproxy/0/s/v/d"));
        for (String bad : List.of("/services/SM", "/services/SM/nbd/a/b", "/services/SM/nbd/a//c/d",
                "/services/SM/nbd/a/b/c/d/e", "/services/SM/nbd/a/b/c/%zz", "/services/SM/nbd/a/b/c/%4",
                "/services/SM/nbdproxy/export/a/b/c/d", "/other/nbd/a/b/c/d")) {
            assertEquals(Optional.empty(), RemoteNbdPath.parse(bad), bad);
        }
    }

    @Test
    void theUpgradeRequestCarriesTheTokenInTheQueryOnly() {
        RemoteUrl u = RemoteUrl.parse("http://h:81/services/SM?session_id=" + TOKEN);
        String head = new String(NbdUpgrade.request(u, RemoteNbdPath.nbd("vm", "sr", "vdi", "dp")),
                java.nio.charset.StandardCharsets.US_ASCII);
        assertEquals("PUT /services/SM/nbd/vm/sr/vdi/dp?session_id=" + TOKEN + " HTTP/1.0\r\nHost: h:81\r\n"
                + "User-Agent: xenstorage-nbd-tunnel\r\n\r\n", head);
        assertEquals(200, NbdUpgrade.status(new String(NbdUpgrade.ACCEPTED,
                java.nio.charset.StandardCharsets.US_ASCII)).getAsInt());
        assertEquals(403, NbdUpgrade.status("HTTP/1.1 403 Forbidden\r\n\r\n").getAsInt());
        assertTrue(NbdUpgrade.status("NBDMAGIC").isEmpty());
    }

    @Test
    void nbdExportsParseInBothForms() {
        assertEquals(new NbdExport("/run/q/s.sock", "vol1"), NbdExport.parse("nbd:unix:/run/q/s.sock:exportname=vol1"));
        assertEquals(new NbdExport("/run/q/s.sock", "vol 1"), NbdExport.parse("nbd+unix:///vol%201?socket=/run/q/s.sock"));
        assertEquals(new NbdExport("/s", ""), NbdExport.parse("nbd+unix:///?socket=/s"));
        assertEquals(new NbdExport("/s", ""), NbdExport.parse("nbd+unix://?socket=/s"));
        for (String bad : List.of("nbd+unix:///x", "nbd:tcp:h:1", "file:///x", "")) {
            assertThrows(IllegalArgumentException.class, () -> NbdExport.parse(bad), bad);
        }
        // a SMAPIv1 attach lists an empty Nbd when the driver has no NBD export: the File is what counts
        org.xenstorage.idl.types.Backend v1 = new org.xenstorage.idl.types.Backend(List.of(
                new org.xenstorage.idl.types.Implementation.File(new org.xenstorage.idl.types.FileInfo("/f")),
                new org.xenstorage.idl.types.Implementation.Nbd(new org.xenstorage.idl.types.NbdInfo(""))));
        assertEquals(Optional.empty(), NbdExport.of(v1));
        org.xenstorage.idl.types.Backend v3 = new org.xenstorage.idl.types.Backend(List.of(
                new org.xenstorage.idl.types.Implementation.Nbd(new org.xenstorage.idl.types.NbdInfo(
                        "nbd+unix:///qd?socket=/run/q.sock"))));
        assertEquals(Optional.of(new NbdExport("/run/q.sock", "qd")), NbdExport.of(v3));
    }
}
