package org.xenstorage.smctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.lang.reflect.Type;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.xenstorage.idl.rpc.MethodTable;
import org.xenstorage.idl.types.SrHealth;
import org.xenstorage.idl.types.SrInfo;
import org.xenstorage.idl.types.TaskInfo;
import org.xenstorage.idl.types.TaskState;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.idl.wire.Json;

/** Human output of each result shape. */
class HumanFormatTest {

    private static Type result(String wire) {
        return MethodTable.byWireName(wire).orElseThrow().resultType();
    }

    @Test
    void scalarsArePlainAndUnitIsNothing() {
        assertEquals("0", HumanFormat.render("0", String.class));
        assertEquals("2147483648", HumanFormat.render(2147483648L, long.class));
        assertEquals("true", HumanFormat.render(true, boolean.class));
        assertEquals("", HumanFormat.render(null, Void.class));
    }

    @Test
    void listsOfNamesAreOnePerLine() {
        assertEquals("sr1\nsr2", HumanFormat.render(List.of("sr1", "sr2"), result("SR.list")));
    }

    @Test
    void recordsAreKeyValueLinesWithWireNamesAndReadableSizes() {
        SrInfo info = new SrInfo(Optional.empty(), "Local", "", 10L << 30, 3L << 30, false, SrHealth.Healthy);
        assertEquals("""
                sr_uuid: -
                name_label: Local
                name_description: ""
                total_space: 10737418240 (10 GiB)
                free_space: 3221225472 (3 GiB)
                clustered: false
                health: Healthy""", HumanFormat.render(info, SrInfo.class));
    }

    @Test
    void nestedValuesAreIndented() {
        VdiInfo v = VdiInfo.defaults("v1", "disk").withSmConfig(Map.of("k", "x")).withTags(List.of("a", "b"));
        String text = HumanFormat.render(v, VdiInfo.class);
        assertTrue(text.contains("\nsm_config:\n  k: x\ntags: a, b"), text);
        assertTrue(text.startsWith("vdi: v1\nuuid: -\n"), text);
    }

    @Test
    void listsOfRecordsAreTables() {
        List<TaskInfo> tasks = List.of(
                new TaskInfo("0", "copy", 12.5, new TaskState.Pending(0.4), Map.of(), Map.of(), "()", true),
                new TaskInfo("1", "other", 13, new TaskState.Failed(Json.NODES.arrayNode().add("Cancelled").add("1")),
                        Map.of(), Map.of(), "()", false));
        assertEquals("""
                ID  STATE                 DBG    CTIME  CANCELLABLE
                0   Pending 40%           copy   12.5   true
                1   Failed: Cancelled: 1  other  13     false""", HumanFormat.render(tasks, result("TASK.list")));
        assertEquals("(none)", HumanFormat.render(List.of(), result("TASK.list")));
    }

    @Test
    void taskStatesReadAsProgressDurationOrError() {
        assertEquals("Pending 45.5%", HumanFormat.taskState(new TaskState.Pending(0.455)));
        assertEquals("Failed: Sr_not_attached: s", HumanFormat.taskState(
                new TaskState.Failed(Json.NODES.arrayNode().add("Sr_not_attached").add("s"))));
    }

    @Test
    void untypedJsonObjectsOfObjectsAreTablesAndTextKeepsItsLines() throws Exception {
        JsonNode srs = Json.parse("{\"sr1\":{\"sr_type\":\"ext\",\"queue\":\"q.ext\"},\"sr2\":{\"sr_type\":\"gfs2\"}}");
        assertEquals("""
                KEY  SR_TYPE  QUEUE
                sr1  ext      q.ext
                sr2  gfs2     -""", HumanFormat.render(srs));
        JsonNode mixed = Json.parse("{\"report\":\"line 1\\nline 2\",\"n\":3,\"list\":[1,2]}");
        assertEquals("report:\n  line 1\n  line 2\nn: 3\nlist: 1, 2", HumanFormat.render(mixed));
        assertEquals("a\nb", HumanFormat.render(Json.parse("[\"a\",\"b\"]")));
    }
}
