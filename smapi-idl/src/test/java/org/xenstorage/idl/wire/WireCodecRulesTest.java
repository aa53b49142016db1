package org.xenstorage.idl.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.NullNode;
import java.lang.reflect.Type;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.xenstorage.idl.types.DpState;
import org.xenstorage.idl.types.MirrorStatus;
import org.xenstorage.idl.types.RoRw;
import org.xenstorage.idl.types.SrHealth;
import org.xenstorage.idl.types.SrInfo;
import org.xenstorage.idl.types.TaskInfo;
import org.xenstorage.idl.types.TaskState;
import org.xenstorage.idl.types.VdiInfo;

/** rpclib's marshalling rules, one at a time (smapiv2 spec, section 2). */
class WireCodecRulesTest {

    private static <T> T decode(String json, Type type) {
        return WireCodec.fromJson(json, type);
    }

    @Test
    void defaultVdiInfoIsUpstreams() {
        VdiInfo v = decode("{\"vdi\":\"\",\"name_label\":\"default\"}", VdiInfo.class);
        assertEquals(VdiInfo.defaults("", "default"), v);
        assertEquals("user", v.ty());
        assertTrue(v.persistent());
        assertEquals("19700101T00:00:00Z", v.snapshotTime());
        assertEquals(Optional.empty(), v.uuid());
    }

    @Test
    void recordKeysMatchCaseInsensitivelyAndFirstDuplicateWins() {
        VdiInfo v = decode("{\"VDI\":\"a\",\"vdi\":\"b\",\"Name_Label\":\"n\",\"extra\":42}", VdiInfo.class);
        assertEquals("a", v.vdi());
        assertEquals("n", v.nameLabel());
        Map<String, String> m = decode("{\"k\":\"first\",\"k\":\"second\"}",
                new TypeToken<Map<String, String>>() { }.type());
        assertEquals(Map.of("k", "first"), m);
    }

    @Test
    void illTypedDefaultedMembersFallBackToTheDefault() {
        VdiInfo v = decode("{\"vdi\":\"a\",\"name_label\":\"n\",\"persistent\":\"yes\",\"virtual_size\":\"big\","
                + "\"uuid\":null,\"tags\":[1]}", VdiInfo.class);
        assertTrue(v.persistent());
        assertEquals(0, v.virtualSize());
        assertEquals(Optional.empty(), v.uuid());
        assertEquals(List.of(), v.tags());
    }

    @Test
    void missingRequiredMemberIsAnErrorNamingIt() {
        WireException e = assertThrows(WireException.class, () -> decode("{\"vdi\":\"a\"}", VdiInfo.class));
        assertEquals("No value found for key: 'name_label' when unmarshalling 'vdi_info'", e.getMessage());
        assertThrows(WireException.class, () -> decode("{\"name_label\":\"x\",\"name_description\":\"\","
                + "\"total_space\":1,\"free_space\":1,\"clustered\":false}", SrInfo.class));
    }

    @Test
    void optionFieldsAreOmittedWhenNoneAndUnwrappedWhenSome() {
        SrInfo none = new SrInfo(Optional.empty(), "n", "", 2, 1, false, SrHealth.Healthy);
        assertEquals("{\"health\":\"Healthy\",\"clustered\":false,\"free_space\":1,\"total_space\":2,"
                + "\"name_description\":\"\",\"name_label\":\"n\"}", WireCodec.toJson(none, SrInfo.class));
        SrInfo some = new SrInfo(Optional.of("u"), "n", "", 2, 1, false, SrHealth.Healthy);
        assertTrue(WireCodec.toJson(some, SrInfo.class).endsWith(",\"sr_uuid\":\"u\"}"));
        assertEquals(some, decode(WireCodec.toJson(some, SrInfo.class), SrInfo.class));
        assertEquals("{\"progress\":0.5,\"complete\":true,\"failed\":false}",
                WireCodec.toJson(new MirrorStatus(false, true, Optional.of(0.5)), MirrorStatus.class));
    }

    @Test
    void integersAcceptOcamlStringsAndRejectOverflow() {
        assertEquals(42L, (Long) decode("\"42\"", Long.class));
        assertEquals(16L, (Long) decode("\"0x10\"", Long.class));
        assertEquals(-1_000L, (Long) decode("\"-1_000\"", Long.class));
        assertEquals(Long.MAX_VALUE, (Long) decode("9223372036854775807", Long.class));
        assertThrows(WireException.class, () -> decode("9223372036854775808", Long.class));
        assertThrows(WireException.class, () -> decode("1.5", Long.class));
        assertThrows(WireException.class, () -> decode("\"ten\"", Long.class));
        assertEquals("10737418240", WireCodec.toJson(10737418240L, Long.class));
    }

    @Test
    void floatsAcceptIntegersAndStringsAndWriteNonFiniteAsYojsonDoes() {
        assertEquals(3.0, (Double) decode("3", Double.class));
        assertEquals(0.25, (Double) decode("\"0.25\"", Double.class));
        assertEquals("NaN", WireCodec.toJson(Double.NaN, Double.class));
        assertEquals("-Infinity", WireCodec.toJson(Double.NEGATIVE_INFINITY, Double.class));
        assertTrue(Double.isNaN(decode("NaN", Double.class)));
    }

    @Test
    void basicTypesAreStrict() {
        assertThrows(WireException.class, () -> decode("\"true\"", Boolean.class));
        assertThrows(WireException.class, () -> decode("1", String.class));
        assertThrows(WireException.class, () -> decode("0", Void.class));
    }

    @Test
    void variantsAndEnums() {
        assertEquals("\"Detached\"", WireCodec.toJson(DpState.DETACHED, DpState.class));
        assertEquals("[\"Activated\",\"RW\"]", WireCodec.toJson(new DpState.Activated(RoRw.RW), DpState.class));
        assertEquals(new DpState.Attached(RoRw.RO), decode("[\"attached\",\"ro\"]", DpState.class));
        assertEquals(DpState.DETACHED, decode("[\"Detached\",null]", DpState.class));
        assertEquals(SrHealth.Unavailable, decode("[\"UNAVAILABLE\",null]", SrHealth.class));
        WireException unknown = assertThrows(WireException.class, () -> decode("\"Frozen\"", DpState.class));
        assertEquals("Unknown tag 'Frozen'", unknown.getMessage());
        assertThrows(WireException.class, () -> decode("[\"Attached\"]", DpState.class));
    }

    @Test
    void failedTaskWithNullArgumentDegeneratesToTheBareTag() {
        assertEquals("\"Failed\"", WireCodec.toJson(new TaskState.Failed(NullNode.getInstance()), TaskState.class));
        assertEquals(new TaskState.Failed(NullNode.getInstance()), decode("\"Failed\"", TaskState.class));
        assertEquals("[\"Pending\",0.5]", WireCodec.toJson(new TaskState.Pending(0.5), TaskState.class));
    }

    @Test
    void cancellableDefaultsToFalse() {
        TaskInfo t = decode("{\"id\":\"t\",\"dbg\":\"d\",\"ctime\":1,\"state\":[\"Pending\",0],\"subtasks\":{},"
                + "\"debug_info\":{},\"backtrace\":\"\"}", TaskInfo.class);
        assertEquals(false, t.cancellable());
        assertEquals(1.0, t.ctime());
    }

    @Test
    void parserRejectsTrailingGarbageAndDeepNesting() {
        assertThrows(WireException.class, () -> decode("\"a\" \"b\"", String.class));
        assertThrows(WireException.class, () -> decode("[".repeat(5000) + "]".repeat(5000), com.fasterxml.jackson.databind.JsonNode.class));
        assertThrows(WireException.class, () -> decode("", String.class));
    }

    @Test
    void snakeCase() {
        assertEquals("is_a_snapshot", WireCodec.snakeCase("isASnapshot"));
        assertEquals("o_direct_reason", WireCodec.snakeCase("oDirectReason"));
        assertEquals("sr_uuid", WireCodec.snakeCase("srUuid"));
    }
}
