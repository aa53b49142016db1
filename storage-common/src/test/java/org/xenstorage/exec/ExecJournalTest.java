package org.xenstorage.exec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ExecJournalTest {
    @Test
    void anExecSurvivesTheRoundTripWhateverItsBytes() {
        byte[] stdin = "{\"key\":\"a\tb\nc\"}\u00e9".getBytes(StandardCharsets.UTF_8);
        ExecRequest r = new ExecRequest(List.of("/opt/sm/LocalfileSR", "<?xml version=\"1.0\"?>\n<methodCall>\t"),
                Map.of("PATH", "/usr/bin:/bin", "EMPTY", "", "EQ", "a=b"), stdin, Path.of("/tmp/d ir"),
                Duration.ofSeconds(5), 1024, 1024);
        String line = ExecJournal.encode(r);
        assertEquals(1, line.split("\n", -1).length - 1, "one line per exec");
        ExecJournal.Entry e = ExecJournal.parse(line);
        assertEquals(r.argv(), e.argv());
        assertEquals(r.environment(), e.environment());
        assertArrayEquals(stdin, e.stdin());
        assertEquals(Optional.of(Path.of("/tmp/d ir")), e.workingDir());
    }

    @Test
    void noWorkingDirectoryAndNoStdin() {
        ExecJournal.Entry e = ExecJournal.parse(ExecJournal.encode(
                ExecRequest.of(List.of("true"), Map.of(), Duration.ofSeconds(1))));
        assertEquals(Optional.empty(), e.workingDir());
        assertEquals(0, e.stdin().length);
        assertEquals(Map.of(), e.environment());
    }
}
