package org.xenstorage.smapiv1.xmlrpc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.smapiv1.exec.AttachResult;
import org.xenstorage.smapiv1.exec.SmCall;
import org.xenstorage.smapiv1.exec.SmResults;

/** Requests byte for byte as xapi writes them (spec 3.2, 3.3, 3.7); responses decoded as xapi reads them. */
class XmlRpcCodecTest {

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void driverInfoRequestIsXapisBytes() {
        String expected = "<methodCall><methodName>sr_get_driver_info</methodName><params><param><value><struct>"
                + "<member><name>host_ref</name><value>OpaqueRef:11111111-2222-3333-4444-555555555555</value></member>"
                + "<member><name>command</name><value>sr_get_driver_info</value></member>"
                + "<member><name>args</name><value><array><data/></array></value></member>"
                + "<member><name>device_config</name><value><struct/></value></member>"
                + "</struct></value></param></params></methodCall>";
        assertEquals(expected, SmCall.of("OpaqueRef:11111111-2222-3333-4444-555555555555", "sr_get_driver_info",
                List.of(), Map.of()).toXml());
    }

    @Test
    void vdiCreateRequestIsXapisBytes() {
        String expected = "<methodCall><methodName>vdi_create</methodName><params><param><value><struct>"
                + "<member><name>host_ref</name><value>OpaqueRef:h0000000-0000-4000-8000-000000000001</value></member>"
                + "<member><name>command</name><value>vdi_create</value></member>"
                + "<member><name>args</name><value><array><data><value>10737418240</value><value>disk0</value>"
                + "<value>a test disk</value><value/><value>false</value><value>19700101T00:00:00Z</value>"
                + "<value/><value>false</value></data></array></value></member>"
                + "<member><name>device_config</name><value><struct><member><name>SRmaster</name><value>true</value>"
                + "</member></struct></value></member>"
                + "<member><name>session_ref</name><value>OpaqueRef:sess1</value></member>"
                + "<member><name>sr_ref</name><value>OpaqueRef:s0000000-0000-4000-8000-000000000001</value></member>"
                + "<member><name>vdi_type</name><value>user</value></member>"
                + "<member><name>sr_uuid</name><value>6a1b4f2e-0000-4000-8000-000000000001</value></member>"
                + "<member><name>vdi_sm_config</name><value><struct/></value></member>"
                + "<member><name>subtask_of</name><value>OpaqueRef:task2</value></member>"
                + "</struct></value></param></params></methodCall>";
        SmCall call = SmCall.of("OpaqueRef:h0000000-0000-4000-8000-000000000001", "vdi_create",
                        List.of("10737418240", "disk0", "a test disk", "", "false", "19700101T00:00:00Z", "", "false"),
                        Map.of("SRmaster", "true"))
                .withSession("OpaqueRef:sess1", "OpaqueRef:task2")
                .withSr("OpaqueRef:s0000000-0000-4000-8000-000000000001", "6a1b4f2e-0000-4000-8000-000000000001")
                .withNewVdi("user", Map.of(), null);
        assertEquals(expected, call.toXml());
    }

    @Test
    void vdiMembersComeInXapisOrder() {
        String xml = SmCall.of("h", "vdi_attach", List.of("true"), Map.of()).withSession("s", "t").withSr("sr", "u")
                .withVdi("vr", "loc", "vu", "persist", false).toXml();
        List<String> order = List.of("host_ref", "command", "args", "device_config", "session_ref", "sr_ref", "sr_uuid",
                "vdi_ref", "vdi_location", "vdi_uuid", "subtask_of", "vdi_on_boot", "vdi_allow_caching");
        int at = -1;
        for (String member : order) {
            int next = xml.indexOf("<name>" + member + "</name>");
            assertTrue(next > at, member + " out of order in " + xml);
            at = next;
        }
    }

    @Test
    void stringsAreEscapedAsciiOnlyWithoutControlCharacters() {
        StringBuilder sb = new StringBuilder();
        XmlRpcWriter.value(sb, "a&b<c>\"d\u0001e\t中\uD83D\uDE00");
        assertEquals("<value>a&amp;b&lt;c&gt;&quot;de\t&#x4E2D;&#x1F600;</value>", sb.toString());
        assertTrue(sb.chars().allMatch(c -> c < 0x80));
    }

    @Test
    void writerAndParserRoundTripEveryType() throws Exception {
        Map<String, Object> struct = new LinkedHashMap<>();
        struct.put("s", "text 中");
        struct.put("empty", "");
        struct.put("b", true);
        struct.put("i", 42);
        struct.put("nil", null);
        struct.put("date", new XmlRpcDateTime("20260101T10:00:00Z"));
        struct.put("list", List.of("x", "y"));
        MethodResponse r = XmlRpcParser.parseResponse(bytes(XmlRpcWriter.methodResponse(struct)));
        Map<?, ?> back = (Map<?, ?>) assertInstanceOf(MethodResponse.Success.class, r).value();
        assertEquals("text 中", back.get("s"));
        assertEquals("", back.get("empty"));
        assertEquals(true, back.get("b"));
        assertEquals(42, back.get("i"));
        assertNull(back.get("nil"));
        assertTrue(back.containsKey("nil"));
        assertEquals(new XmlRpcDateTime("20260101T10:00:00Z"), back.get("date"));
        assertArrayEquals(new Object[] {"x", "y"}, (Object[]) back.get("list"));
    }

    @Test
    void decodesPythonsFaultAndNilDocuments() throws Exception {
        String fault = "<?xml version='1.0'?>\n<methodResponse>\n<fault>\n<value><struct>\n<member>\n"
                + "<name>faultCode</name>\n<value><int>43</int></value>\n</member>\n<member>\n<name>faultString</name>\n"
                + "<value><string>The VDI already exists</string></value>\n</member>\n</struct></value>\n</fault>\n"
                + "</methodResponse>\n";
        assertEquals(new MethodResponse.Fault(43, "The VDI already exists"), XmlRpcParser.parseResponse(bytes(fault)));
        String nil = "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><nil/></value></param>\n"
                + "</params>\n</methodResponse>\n";
        assertEquals(new MethodResponse.Success(null), XmlRpcParser.parseResponse(bytes(nil)));
        String i4 = fault.replace("<int>43</int>", "<i4>-7</i4>");
        assertEquals(-7, ((MethodResponse.Fault) XmlRpcParser.parseResponse(bytes(i4))).code());
    }

    @Test
    void whitespaceOnlyStringsAreKept() throws Exception {
        // QUIRK fixed: xapi's XML reader turns "  " into ""
        String doc = "<methodResponse><params><param><value>  </value></param></params></methodResponse>";
        assertEquals(new MethodResponse.Success("  "), XmlRpcParser.parseResponse(bytes(doc)));
    }

    @Test
    void refusesDoctypesExtensionsAndWrongShapes() {
        XmlRpcFormatException dtd = assertThrows(XmlRpcFormatException.class, () -> XmlRpcParser.parseResponse(bytes(
                "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"b\">]><methodResponse/>")));
        assertEquals(XmlRpcFormatException.Kind.NOT_XML, dtd.kind());
        XmlRpcFormatException ext = assertThrows(XmlRpcFormatException.class, () -> XmlRpcParser.parseResponse(bytes(
                "<methodResponse><params><param><value><ex:i8 xmlns:ex=\"http://ws.apache.org/xmlrpc/namespaces/"
                        + "extensions\">1</ex:i8></value></param></params></methodResponse>")));
        assertEquals(XmlRpcFormatException.Kind.UNEXPECTED_SHAPE, ext.kind());
        XmlRpcFormatException none = assertThrows(XmlRpcFormatException.class, () -> XmlRpcParser.parseResponse(
                bytes("<methodResponse><params></params></methodResponse>")));
        assertEquals(XmlRpcFormatException.Kind.UNEXPECTED_SHAPE, none.kind());
        assertEquals(XmlRpcFormatException.Kind.NOT_XML, assertThrows(XmlRpcFormatException.class,
                () -> XmlRpcParser.parseResponse(bytes("<methodResponse><params>"))).kind());
        // the same split for calls (the callback server's side)
        assertEquals(XmlRpcFormatException.Kind.UNEXPECTED_SHAPE, assertThrows(XmlRpcFormatException.class,
                () -> XmlRpcParser.parseCall(bytes("<methodCall><methodName>x</methodName><params><param><value>"
                        + "<ex:serializable xmlns:ex=\"http://ws.apache.org/xmlrpc/namespaces/extensions\">rO0=</ex:serializable>"
                        + "</value></param></params></methodCall>"))).kind());
        assertEquals(XmlRpcFormatException.Kind.UNEXPECTED_SHAPE, assertThrows(XmlRpcFormatException.class,
                () -> XmlRpcParser.parseCall(bytes("<methodCall><methodName>x</methodName><params><param><value>"
                        + "<int>twelve</int></value></param></params></methodCall>"))).kind());
        assertEquals(XmlRpcFormatException.Kind.NOT_XML, assertThrows(XmlRpcFormatException.class,
                () -> XmlRpcParser.parseCall(bytes("<methodCall><methodName>x</methodName><params>"))).kind());
    }

    /**
     * Issue 13.9: 10,000-deep nesting answered Internal_error "java.lang.StackOverflowError" (Apache's value
     * parsers recurse per level); it is now refused as the parser refuses a DOCTYPE, while a deep but sane
     * document still decodes.
     */
    @Test
    void refusesNestingDeeperThanTheBoundAndKeepsDeepSaneDocuments() throws Exception {
        XmlRpcFormatException deep = assertThrows(XmlRpcFormatException.class,
                () -> XmlRpcParser.parseResponse(bytes(nestedArrays(10_000))));
        assertEquals(XmlRpcFormatException.Kind.NOT_XML, deep.kind());
        assertTrue(deep.getMessage().contains("nested deeper than " + XmlRpcParser.MAX_DEPTH), deep.getMessage());
        Object v = ((MethodResponse.Success) XmlRpcParser.parseResponse(bytes(nestedArrays(60)))).value();
        for (int i = 0; i < 60; i++) {
            v = ((Object[]) v)[0];
        }
        assertEquals("leaf", v);
    }

    private static String nestedArrays(int levels) {
        StringBuilder b = new StringBuilder("<methodResponse><params><param><value>");
        b.append("<array><data><value>".repeat(levels)).append("leaf").append("</value></data></array>".repeat(levels));
        return b.append("</value></param></params></methodResponse>").toString();
    }

    /** Issue 13.9: the parser printed "[Fatal Error] :1:1: ..." to stderr, outside the log format. */
    @Test
    void malformedXmlPrintsNothingToStderr() throws Exception {
        java.io.PrintStream saved = System.err;
        java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
        System.setErr(new java.io.PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            assertThrows(XmlRpcFormatException.class, () -> XmlRpcParser.parseResponse(bytes("not xml at all")));
            assertThrows(XmlRpcFormatException.class, () -> XmlRpcParser.parseCall(bytes("<methodCall><a></b>")));
        } finally {
            System.setErr(saved);
        }
        assertEquals("", captured.toString(StandardCharsets.UTF_8));
    }

    @Test
    void decodesACallAsPythonsXmlrpcClientSendsIt() throws Exception {
        String call = "<?xml version='1.0'?>\n<methodCall>\n<methodName>VDI.db_introduce</methodName>\n<params>\n"
                + "<param>\n<value><string>OpaqueRef:s</string></value>\n</param>\n<param>\n<value><nil/></value>\n"
                + "</param>\n<param>\n<value><dateTime.iso8601>19700101T00:00:00</dateTime.iso8601></value>\n"
                + "</param>\n</params>\n</methodCall>\n";
        MethodCall c = XmlRpcParser.parseCall(bytes(call));
        assertEquals("VDI.db_introduce", c.methodName());
        assertEquals("OpaqueRef:s", c.params().get(0));
        assertNull(c.params().get(1));
        assertEquals("19700101T00:00:00Z", ((XmlRpcDateTime) c.params().get(2)).xapiText());
    }

    @Test
    void resultParsersFollowXapi() {
        AttachResult a = SmResults.attachResult(Map.of("params_nbd", "nbd:x", "o_direct", "junk"));
        assertEquals(new AttachResult(Optional.empty(), "nbd:x", true, "", Map.of()), a);
        StorageException missing = assertThrows(StorageException.class, () -> SmResults.attachResult(Map.of()));
        StorageError.BackendError e = (StorageError.BackendError) missing.error();
        assertEquals("SR_BACKEND_FAILURE", e.code());
        assertEquals("<struct> missing field: params_nbd", e.params().get(2));
        StorageException nonString = assertThrows(StorageException.class,
                () -> SmResults.vdiInfo(Map.of("uuid", "u", "location", "l", "size", 3)));
        assertTrue(((StorageError.BackendError) nonString.error()).params().get(1).startsWith("XML parse failure"));
        assertEquals(new SmResults.VdiRef("l", "u"), SmResults.vdiInfo(Map.of("uuid", "u", "location", "l")));
    }
}
