package org.xenstorage.smapiv3.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The state.db S-expression, checked against the texts upstream's Sexplib writes (spec 4.1). */
class StateSexpTest {
    @TempDir
    Path tmp;

    @Test
    void writesUpstreamsOneEntryText() {
        assertEquals("((dummySR((sr file:///tmp/dummy)(uids()))))",
                StateSexp.write(Map.of("dummySR", new AttachedSr("file:///tmp/dummy", List.of()))));
        assertEquals("((sr1((sr plug-sr)(uids()))))",
                StateSexp.write(Map.of("sr1", new AttachedSr("plug-sr", List.of()))));
    }

    @Test
    void writesUpstreamsThreeEntryTextSortedWithQuoting() {
        Map<String, AttachedSr> table = new LinkedHashMap<>();
        table.put("zeta", new AttachedSr("file:///tmp/dummy", List.of()));
        table.put("mid", new AttachedSr("", List.of("a;b", "q\"z", "h#|i", "new\nline")));
        table.put("alpha", new AttachedSr("file:///tmp/sfsr?path=%2Ftmp&name=a b", List.of("u1", "x(y)")));
        String upstream = "((alpha((sr\"file:///tmp/sfsr?path=%2Ftmp&name=a b\")(uids(u1\"x(y)\"))))"
                + "(mid((sr\"\")(uids(\"a;b\"\"q\\\"z\"\"h#|i\"\"new\\nline\"))))"
                + "(zeta((sr file:///tmp/dummy)(uids()))))";
        assertEquals(upstream, StateSexp.write(table));
    }

    @Test
    void readsUpstreamTextIncludingWhitespaceAndEscapes() throws Exception {
        Map<String, AttachedSr> t = StateSexp.read("(\n (a ((sr \"x\\\\y\\t\\065\") (uids (u1 u2))))\n"
                + " (b ((uids ()) (sr plain)))\n)\n");
        assertEquals(new AttachedSr("x\\y\tA", List.of("u1", "u2")), t.get("a"));
        assertEquals(new AttachedSr("plain", List.of()), t.get("b"));
        assertEquals(Map.of(), StateSexp.read("()"));
    }

    @Test
    void rejectsMalformedTextAndDuplicateKeys() {
        assertThrows(StateSexp.MalformedState.class, () -> StateSexp.read("((a((sr x)(uids())))"));
        assertThrows(StateSexp.MalformedState.class, () -> StateSexp.read("((a((sr x)(uids())))(a((sr y)(uids()))))"));
        assertThrows(StateSexp.MalformedState.class, () -> StateSexp.read("((a((uids()))))"));
        assertThrows(StateSexp.MalformedState.class, () -> StateSexp.read("atom"));
        assertThrows(StateSexp.MalformedState.class, () -> StateSexp.read("(\"unterminated)"));
    }

    @Property(tries = 150)
    void anyTableRoundTrips(@ForAll @Size(max = 6) Map<String, String> handles,
                            @ForAll @Size(max = 6) List<String> uids) throws Exception {
        Map<String, AttachedSr> table = new LinkedHashMap<>();
        handles.forEach((k, v) -> table.put(k, new AttachedSr(v, uids)));
        assertEquals(table, StateSexp.read(StateSexp.write(table)));
    }

    @Test
    void tableIsPersistedOnEveryChangeAndReloaded() throws Exception {
        Path file = tmp.resolve("sub/state.db");
        AttachedSrTable t = AttachedSrTable.load(file);
        t.put("sr1", new AttachedSr("plug-sr", List.of()));
        assertEquals("((sr1((sr plug-sr)(uids()))))", Files.readString(file));
        assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
                Files.getPosixFilePermissions(file)));
        t.put("sr2", new AttachedSr("h2", List.of("u")));
        t.remove("sr1");
        AttachedSrTable reloaded = AttachedSrTable.load(file);
        assertEquals(List.of("sr2"), reloaded.srs());
        assertEquals(new AttachedSr("h2", List.of("u")), reloaded.find("sr2").orElseThrow());
    }

    @Test
    void malformedStateFileRefusesToLoad() throws Exception {
        Path file = tmp.resolve("state.db");
        Files.writeString(file, "((broken");
        assertThrows(java.io.IOException.class, () -> AttachedSrTable.load(file));
    }
}
