package org.xenstorage.daemon.remote;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.daemon.config.ConfigLoader;
import org.xenstorage.daemon.service.DaemonRuntime;
import org.xenstorage.daemon.service.SdNotify;

/** The token file's rules, and that a daemon whose endpoint has no usable token does not start at all. */
class EndpointTokenTest {
    static final String TOKEN = "0123456789abcdef-token";

    @TempDir
    Path dir;

    Path tokenFile(String content, String mode) throws IOException {
        Path f = dir.resolve("token");
        Files.deleteIfExists(f);
        Files.writeString(f, content);
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString(mode));
        return f;
    }

    @Test
    void aPrivateOneLineFileHoldsTheToken() throws Exception {
        EndpointToken t = EndpointToken.load(tokenFile(TOKEN + "\n", "rw-------"));
        assertTrue(t.matches(TOKEN));
        assertFalse(t.matches(TOKEN + "x"));
        assertFalse(t.matches(TOKEN.substring(1)));
        assertFalse(t.matches(""));
        assertFalse(t.matches(null));
        assertEquals("EndpointToken(hidden)", t.toString());
        assertEquals("/p?session_id=(hidden)", t.scrub("/p?session_id=" + TOKEN));
        assertTrue(EndpointToken.load(tokenFile(TOKEN, "r--------")).matches(TOKEN), "no newline is fine too");
    }

    @Test
    void aFileOthersCanReadOrAWeakTokenIsRefusedWithoutShowingIt() throws Exception {
        for (String mode : new String[] {"rw-r-----", "rw----r--", "rw-----w-"}) {
            String why = assertThrows(IOException.class, () -> EndpointToken.load(tokenFile(TOKEN, mode))).getMessage();
            assertTrue(why.contains("not private") && why.contains("chmod 600"), why);
            assertFalse(why.contains(TOKEN), why);
        }
        for (String content : new String[] {"short", "", "has a space in it 0123", TOKEN + "\nsecond line"}) {
            String why = assertThrows(IOException.class, () -> EndpointToken.load(tokenFile(content, "rw-------")),
                    content).getMessage();
            assertFalse(why.contains(content) && !content.isEmpty(), why);
        }
        assertThrows(IOException.class, () -> EndpointToken.load(dir.resolve("absent")));
        assertThrows(IOException.class, () -> EndpointToken.load(dir), "a directory");
    }

    @Test
    void theDaemonRefusesToStartWithoutAUsableTokenAndStartsNothing() throws Exception {
        Path state = dir.resolve("state");
        Path token = tokenFile(TOKEN, "rw-r--r--");
        var config = ConfigLoader.load(new String[] {"--mode=embedded", "--state-dir=" + state,
                "--remote-listen=127.0.0.1:1", "--remote-token-file=" + token});
        IOException e = assertThrows(IOException.class, () -> DaemonRuntime.start(config,
                SdNotify.fromEnvironment(Map.of())));
        assertTrue(e.getMessage().contains(token.toString()) && e.getMessage().contains("not private"),
                e.getMessage());
        assertFalse(Files.exists(state.resolve("message-switch.sock")), "nothing started");
    }
}
