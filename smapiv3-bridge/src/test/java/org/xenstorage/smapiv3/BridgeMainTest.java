package org.xenstorage.smapiv3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The standalone role refuses bad options and unusable roots with exit status 2 and a clear message. */
class BridgeMainTest {
    @TempDir
    Path tmp;

    private int run(ByteArrayOutputStream err, String... args) {
        return BridgeMain.run(args, new PrintStream(new ByteArrayOutputStream()),
                new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    @Test
    void unknownOptionExitsTwo() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(2, run(err, "--bogus=1"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("--bogus=1"));
    }

    @Test
    void malformedNumberExitsTwo() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(2, run(err, "--script-timeout=soon"));
    }

    @Test
    void missingRootExitsTwoNamingIt() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Path missing = tmp.resolve("nope");
        assertEquals(2, run(err, "--root=" + missing, "--state-dir=" + tmp.resolve("s"), "--stdio"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains(missing.toString()));
    }

    @Test
    void malformedStateFileExitsTwoNamingIt() throws Exception {
        Files.createDirectories(tmp.resolve("root"));
        Files.createDirectories(tmp.resolve("s"));
        Files.writeString(tmp.resolve("s/state.db"), "((unclosed");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(2, run(err, "--root=" + tmp.resolve("root"), "--state-dir=" + tmp.resolve("s"), "--stdio"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("state.db"));
    }
}
