package org.xenstorage.smctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.xenstorage.idl.rpc.MethodTable;
import org.xenstorage.idl.types.MirrorOperation;
import org.xenstorage.idl.types.VdiInfo;

/** Command-line text to IDL values, one case per parameter kind. */
class ParamOptionTest {

    private static ParamOption option(String wire, String param) {
        return CallCommand.of(MethodTable.byWireName(wire).orElseThrow(), CommonOptions.RESERVED).options().stream()
                .filter(o -> o.param().name().equals(param)).findFirst().orElseThrow();
    }

    @Test
    void integersTakeBinaryUnitSuffixes() {
        ParamOption size = option("SR.create", "physical_size");
        assertEquals(10L << 30, size.toArgument("10G"));
        assertEquals(512L << 20, size.toArgument("512MiB"));
        assertEquals(4096L, size.toArgument("4k"));
        assertEquals(-1L, size.toArgument("-1"));
        assertEquals(123L, size.toArgument("123"));
        UsageError overflow = assertThrows(UsageError.class, () -> size.toArgument("99999999P"));
        assertTrue(overflow.getMessage().startsWith("--physical-size: "), overflow.getMessage());
        assertThrows(UsageError.class, () -> size.toArgument("1.5G"));
    }

    @Test
    void optionalIntIsRangeCheckedAndAbsentMeansNone() {
        ParamOption timeout = option("UPDATES.get", "timeout");
        assertEquals(Optional.of(30), timeout.toArgument("30"));
        assertEquals(Optional.empty(), timeout.toArgument(null));
        UsageError e = assertThrows(UsageError.class, () -> timeout.toArgument("3000000000"));
        assertTrue(e.getMessage().contains("out of range for a 32-bit integer"), e.getMessage());
    }

    @Test
    void stringMapsMergeKeyValuePairsAndJsonObjects() {
        ParamOption config = option("SR.create", "device_config");
        assertEquals(Map.of("path", "/srv/a=b", "mode", "x", "j", "1"),
                config.toArgument(List.of("path=/srv/a=b", "{\"mode\":\"x\",\"j\":\"1\"}")));
        assertEquals(Map.of(), config.toArgument(null));
        UsageError e = assertThrows(UsageError.class, () -> config.toArgument(List.of("novalue")));
        assertEquals("--device-config: expected key=value or a JSON object, got 'novalue'", e.getMessage());
        assertThrows(UsageError.class, () -> config.toArgument(List.of("{\"n\":1")));
    }

    @Test
    void stringListsTakeRepeatsAndJsonArrays() {
        ParamOption similar = option("DATA.MIRROR.receive_start", "similar");
        assertEquals(List.of("a", "b", "c"), similar.toArgument(List.of("a", "[\"b\",\"c\"]")));
        assertEquals(List.of(), similar.toArgument(null));
    }

    @Test
    void recordsAreJsonWithTheIdlDefaults() {
        VdiInfo v = (VdiInfo) option("VDI.create", "vdi_info").toArgument(List.of("{\"vdi\":\"x\",\"name_label\":\"d\"}"));
        assertEquals("x", v.vdi());
        assertEquals("d", v.nameLabel());
        assertEquals("user", v.ty());
        assertTrue(v.persistent());
        assertEquals(0, v.virtualSize());
        UsageError missing = assertThrows(UsageError.class,
                () -> option("VDI.create", "vdi_info").toArgument(List.of("{\"vdi\":\"\"}")));
        assertTrue(missing.getMessage().startsWith("--vdi-info: not a valid vdi_info"), missing.getMessage());
        UsageError notJson = assertThrows(UsageError.class,
                () -> option("VDI.create", "vdi_info").toArgument(List.of("{x")));
        assertTrue(notJson.getMessage().startsWith("--vdi-info: invalid JSON"), notJson.getMessage());
    }

    @Test
    void recordsTakeTypedFieldAssignmentsMergedWithJson() {
        VdiInfo v = (VdiInfo) option("VDI.create", "vdi_info").toArgument(List.of("name_label=disk0",
                "virtual-size=1G", "tags=a,b", "{\"persistent\":false,\"sm_config\":{\"k\":\"v\"}}", "uuid=u1"));
        assertEquals("", v.vdi(), "the key the backend assigns on create defaults to empty");
        assertEquals("disk0", v.nameLabel());
        assertEquals(1L << 30, v.virtualSize());
        assertEquals(List.of("a", "b"), v.tags());
        assertEquals(Map.of("k", "v"), v.smConfig());
        assertEquals(Optional.of("u1"), v.uuid());
        assertEquals(false, v.persistent());
        UsageError unknown = assertThrows(UsageError.class,
                () -> option("VDI.create", "vdi_info").toArgument(List.of("colour=blue")));
        assertTrue(unknown.getMessage().startsWith("--vdi-info: vdi_info has no field 'colour' (fields: vdi, uuid,"),
                unknown.getMessage());
        UsageError notBool = assertThrows(UsageError.class,
                () -> option("VDI.create", "vdi_info").toArgument(List.of("name_label=d", "read_only=yes")));
        assertEquals("--vdi-info read_only: expected true or false, got 'yes'", notBool.getMessage());
    }

    @Test
    void variantsAreJsonAndUnknownTagsAreRejected() {
        ParamOption op = option("DATA.stat", "operation");
        assertEquals(new MirrorOperation.CopyV1("c1"), op.toArgument("[\"CopyV1\",\"c1\"]"));
        assertThrows(UsageError.class, () -> op.toArgument("[\"Nope\",\"c1\"]"));
    }

    @Test
    void flagsAndNameDescriptionHaveOperatorDefaults() {
        assertEquals(Boolean.FALSE, option("VDI.attach3", "read_write").toArgument(null));
        assertEquals(Boolean.TRUE, option("VDI.attach3", "read_write").toArgument(Boolean.TRUE));
        assertEquals("", option("SR.create", "name_description").toArgument(null));
        assertThrows(UsageError.class, () -> option("SR.create", "name_label").toArgument(null));
    }
}
