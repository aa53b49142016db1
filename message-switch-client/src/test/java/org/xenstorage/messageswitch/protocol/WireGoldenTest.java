package org.xenstorage.messageswitch.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

/**
 * Raw HTTP bytes of every request and response, as upstream's {@code Protocol.In.to_request} /
 * {@code Out.to_response} lay them out (paths, methods, rpclib JSON bodies), and the switch-side
 * parse of each request back to the same value.
 */
class WireGoldenTest {
    private static final String HEADERS = " HTTP/1.1\r\nhost: localhost\r\nuser-agent: xenstorage-message-switch\r\n";

    private static String get(String path) {
        return "GET " + path + HEADERS + "content-length: 0\r\nconnection: keep-alive\r\n\r\n";
    }

    private static String post(String path, String body) {
        return "POST " + path + HEADERS + "content-length: " + body.getBytes(StandardCharsets.UTF_8).length
                + "\r\nconnection: keep-alive\r\n\r\n" + body;
    }

    static Stream<Arguments> requests() {
        return Stream.of(
                Arguments.of(new SwitchRequest.Login("xapi-1234"), get("/login/xapi-1234")),
                Arguments.of(new SwitchRequest.CreatePersistent("org.xen.xapi.storage"), get("/persistent/org.xen.xapi.storage")),
                Arguments.of(new SwitchRequest.CreateTransient("client-7"), get("/transient/client-7")),
                Arguments.of(new SwitchRequest.Destroy("org.xen.xapi.storage.ext"), get("/destroy/org.xen.xapi.storage.ext")),
                Arguments.of(new SwitchRequest.Ack(new MessageId("org.xen.xapi.storage", 42)), get("/ack/org.xen.xapi.storage/42")),
                Arguments.of(new SwitchRequest.ListQueues("org.xen", false), get("/list/org.xen")),
                Arguments.of(new SwitchRequest.ListQueues("org.xen", true), get("/list/alive/org.xen")),
                Arguments.of(new SwitchRequest.Trace(17, 5.0), get("/trace/17/5.0")),
                Arguments.of(new SwitchRequest.Trace(-1, 0.5), get("/trace/-1/0.5")),
                Arguments.of(new SwitchRequest.DiagnosticsRequest(), get("/")),
                Arguments.of(new SwitchRequest.Get(List.of("index.html")), get("/admin/index.html")),
                Arguments.of(new SwitchRequest.Shutdown(), post("/shutdown", "")),
                Arguments.of(new SwitchRequest.Transfer(Optional.of("41"), 30.0, List.of("a", "b")),
                        post("/transfer", "{\"from\":\"41\",\"timeout\":30.0,\"queues\":[\"a\",\"b\"]}")),
                Arguments.of(new SwitchRequest.Transfer(Optional.empty(), 0.25, List.of("client-7")),
                        post("/transfer", "{\"timeout\":0.25,\"queues\":[\"client-7\"]}")),
                Arguments.of(new SwitchRequest.Send("org.xen.xapi.storage",
                                new Message("{\"method\":\"Query.query\",\"params\":[{\"dbg\":\"x\"}],\"id\":1}",
                                        new MessageKind.Request("client-7"))),
                        post("/request/org.xen.xapi.storage/client-7", "{\"method\":\"Query.query\",\"params\":[{\"dbg\":\"x\"}],\"id\":1}")),
                Arguments.of(new SwitchRequest.Send("client-7",
                                new Message("{\"result\":true,\"error\":null,\"id\":1}",
                                        new MessageKind.Response(new MessageId("org.xen.xapi.storage", 42)))),
                        post("/response/client-7/org.xen.xapi.storage/42", "{\"result\":true,\"error\":null,\"id\":1}")),
                // names with '/', space and non-ASCII are percent-encoded per segment
                Arguments.of(new SwitchRequest.CreateTransient("a/b c"), get("/transient/a%2Fb%20c")),
                Arguments.of(new SwitchRequest.Login("ü"), get("/login/%C3%BC")));
    }

    @ParameterizedTest
    @MethodSource("requests")
    void requestBytesAreExactlyUpstreams(SwitchRequest request, String wire) {
        assertEquals(wire, new String(HttpWire.request(request), StandardCharsets.UTF_8));
    }

    @ParameterizedTest
    @MethodSource("requests")
    void switchParsesEveryRequestBackToItself(SwitchRequest request, String wire) {
        HttpForm f = request.toHttp();
        assertEquals(Optional.of(request), SwitchRequest.parse(f.method(), f.path(), f.body()));
    }

    private static final Message REQ = new Message("{\"method\":\"x\"}", new MessageKind.Request("client-7"));
    private static final Message RESP = new Message("ok", new MessageKind.Response(new MessageId("q", 3)));

    static Stream<Arguments> responses() {
        Map<String, Diagnostics.QueueState> perm = new LinkedHashMap<>();
        perm.put("q", new Diagnostics.QueueState(OptionalLong.of(99), List.of(
                new Diagnostics.Queued(new MessageId("q", 3), new Entry(new Origin.Name("xapi"), 1234, REQ)))));
        Map<String, Diagnostics.QueueState> trans = new LinkedHashMap<>();
        trans.put("client-7", new Diagnostics.QueueState(OptionalLong.empty(), List.of(
                new Diagnostics.Queued(new MessageId("client-7", 4), new Entry(new Origin.Anonymous("c1"), 1300, RESP)))));
        return Stream.of(
                Arguments.of(new SwitchRequest.Login("t"), new SwitchResponse.LoggedIn(), 200, ""),
                Arguments.of(new SwitchRequest.CreatePersistent("q"), new SwitchResponse.Created("q"), 200, "q"),
                Arguments.of(new SwitchRequest.CreateTransient("r"), new SwitchResponse.Created("r"), 200, "r"),
                Arguments.of(new SwitchRequest.Destroy("q"), new SwitchResponse.Destroyed(), 200, ""),
                Arguments.of(new SwitchRequest.Ack(new MessageId("q", 1)), new SwitchResponse.Acked(), 200, ""),
                Arguments.of(new SwitchRequest.Shutdown(), new SwitchResponse.ShuttingDown(), 200, ""),
                Arguments.of(new SwitchRequest.Send("q", REQ), new SwitchResponse.Sent(Optional.of(new MessageId("q", 3))),
                        200, "[[\"q\",3]]"),
                Arguments.of(new SwitchRequest.Send("nope", REQ), new SwitchResponse.Sent(Optional.empty()), 200, "[]"),
                Arguments.of(new SwitchRequest.ListQueues("", false), new SwitchResponse.Listed(List.of("a", "b")), 200,
                        "[\"a\",\"b\"]"),
                Arguments.of(new SwitchRequest.Transfer(Optional.of("2"), 5.0, List.of("q")),
                        new SwitchResponse.Transferred(List.of(new SwitchResponse.Delivery(new MessageId("q", 3), REQ)), "3"), 200,
                        "{\"messages\":[[[\"q\",3],{\"payload\":\"{\\\"method\\\":\\\"x\\\"}\",\"kind\":[\"Request\",\"client-7\"]}]],\"next\":\"3\"}"),
                Arguments.of(new SwitchRequest.Transfer(Optional.empty(), 5.0, List.of("q")),
                        new SwitchResponse.Transferred(List.of(), "-1"), 200, "{\"messages\":[],\"next\":\"-1\"}"),
                Arguments.of(new SwitchRequest.Trace(-1, 5.0), new SwitchResponse.Traced(List.of(
                                new SwitchResponse.NumberedEvent(0, new TraceEvent(1.5, Optional.of("xapi"), "q", Optional.empty(),
                                        new TraceEvent.Sent(new MessageId("q", 3), RESP), OptionalLong.empty())),
                                new SwitchResponse.NumberedEvent(1, new TraceEvent(2.0, Optional.empty(), "q", Optional.of("sm"),
                                        new TraceEvent.Acked(new MessageId("q", 3)), OptionalLong.of(77))))), 200,
                        "{\"events\":[[0,{\"time\":1.5,\"input\":\"xapi\",\"queue\":\"q\",\"message\":[\"Message\",[\"q\",3],"
                                + "{\"payload\":\"ok\",\"kind\":[\"Response\",[\"q\",3]]}]}],"
                                + "[1,{\"time\":2.0,\"queue\":\"q\",\"output\":\"sm\",\"message\":[\"Ack\",[\"q\",3]],\"processing_time\":77}]]}"),
                Arguments.of(new SwitchRequest.DiagnosticsRequest(), new SwitchResponse.Dump(new Diagnostics(10, 20, perm, trans)), 200,
                        "{\"start_time\":10,\"current_time\":20,\"permanent_queues\":{\"q\":{\"next_transfer_expected\":99,"
                                + "\"queue_contents\":[[[\"q\",3],{\"origin\":[\"Name\",\"xapi\"],\"time\":1234,\"message\":"
                                + "{\"payload\":\"{\\\"method\\\":\\\"x\\\"}\",\"kind\":[\"Request\",\"client-7\"]}}]]}},"
                                + "\"transient_queues\":{\"client-7\":{\"queue_contents\":[[[\"client-7\",4],{\"origin\":[\"Anonymous\",\"c1\"],"
                                + "\"time\":1300,\"message\":{\"payload\":\"ok\",\"kind\":[\"Response\",[\"q\",3]]}}]]}}}"),
                Arguments.of(new SwitchRequest.CreatePersistent("q"), new SwitchResponse.NotLoggedIn(), 404, "Please log in."),
                Arguments.of(new SwitchRequest.Get(List.of("x")), new SwitchResponse.Resource("<html/>"), 200, "<html/>"));
    }

    @ParameterizedTest
    @MethodSource("responses")
    void responseBytesAreExactlyUpstreams(SwitchRequest request, SwitchResponse response, int status, String body) {
        String reason = status == 200 ? "OK" : "Not Found";
        String expected = "HTTP/1.1 " + status + " " + reason + "\r\ncontent-length: "
                + body.getBytes(StandardCharsets.UTF_8).length + "\r\ncontent-type: text/plain; charset=utf-8\r\n\r\n" + body;
        assertEquals(expected, new String(HttpWire.response(response.toHttp()), StandardCharsets.UTF_8));
    }

    @ParameterizedTest
    @MethodSource("responses")
    void clientDecodesEveryResponseBackToItself(SwitchRequest request, SwitchResponse response, int status, String body) {
        assertEquals(response, SwitchResponse.decode(request, status, body));
    }

    /**
     * A trace as upstream's switch writes it (issue 14.5), byte for byte: a request sent, its response
     * delivered with the processing time, the request acked. Written by hand from upstream's types and
     * rpclib's rules: xapi-project/xen-api ocaml/message-switch/core/protocol.ml ({@code Event.t}, whose
     * {@code message} is {@code Message of message_id * Message.t | Ack of message_id}; {@code Out.trace})
     * and ocaml/message-switch/switch/mswitch.ml (which events it adds); mirage/ocaml-rpc
     * ppx/ppx_deriving_rpc.ml (a constructor's arguments follow its tag in one list, a {@code None} record
     * field is left out, a tuple is a list).
     */
    static final String UPSTREAM_TRACE = "{\"events\":["
            + "[0,{\"time\":1700000000.25,\"input\":\"xapi-1\",\"queue\":\"org.xen.xapi.storage\","
            + "\"message\":[\"Message\",[\"org.xen.xapi.storage\",3],{\"payload\":\"{\\\"id\\\":1}\","
            + "\"kind\":[\"Request\",\"client-7\"]}]}],"
            + "[1,{\"time\":1700000000.5,\"queue\":\"client-7\",\"output\":\"xapi-1\","
            + "\"message\":[\"Message\",[\"client-7\",4],{\"payload\":\"ok\","
            + "\"kind\":[\"Response\",[\"org.xen.xapi.storage\",3]]}],\"processing_time\":250000}],"
            + "[2,{\"time\":1700000001.0,\"input\":\"sm\",\"queue\":\"org.xen.xapi.storage\","
            + "\"message\":[\"Ack\",[\"org.xen.xapi.storage\",3]]}]]}";

    static final SwitchResponse.Traced UPSTREAM_TRACE_VALUE = new SwitchResponse.Traced(List.of(
            new SwitchResponse.NumberedEvent(0, new TraceEvent(1_700_000_000.25, Optional.of("xapi-1"),
                    "org.xen.xapi.storage", Optional.empty(), new TraceEvent.Sent(new MessageId("org.xen.xapi.storage", 3),
                    new Message("{\"id\":1}", new MessageKind.Request("client-7"))), OptionalLong.empty())),
            new SwitchResponse.NumberedEvent(1, new TraceEvent(1_700_000_000.5, Optional.empty(), "client-7",
                    Optional.of("xapi-1"), new TraceEvent.Sent(new MessageId("client-7", 4), new Message("ok",
                    new MessageKind.Response(new MessageId("org.xen.xapi.storage", 3)))), OptionalLong.of(250_000))),
            new SwitchResponse.NumberedEvent(2, new TraceEvent(1_700_000_001.0, Optional.of("sm"), "org.xen.xapi.storage",
                    Optional.empty(), new TraceEvent.Acked(new MessageId("org.xen.xapi.storage", 3)), OptionalLong.empty()))));

    @Test
    void upstreamsTraceBytesAreReadAndWrittenExactly() {
        // our message-cli tail against upstream's switch
        assertEquals(UPSTREAM_TRACE_VALUE, SwitchResponse.decode(new SwitchRequest.Trace(-1, 0), 200, UPSTREAM_TRACE));
        // upstream's message-cli tail against our switch
        assertEquals(new SwitchResponse.Reply(200, UPSTREAM_TRACE), UPSTREAM_TRACE_VALUE.toHttp());
    }

    @Test
    void traceEventTagsMatchCaseInsensitivelyAndTheOldNestedFormIsStillRead() {
        SwitchResponse.NumberedEvent sent = UPSTREAM_TRACE_VALUE.events().get(1);
        String lower = "{\"events\":[[1,{\"time\":1700000000.5,\"queue\":\"client-7\",\"output\":\"xapi-1\","
                + "\"message\":[\"message\",[\"client-7\",4],{\"payload\":\"ok\","
                + "\"kind\":[\"Response\",[\"org.xen.xapi.storage\",3]]}],\"processing_time\":250000}]]}";
        assertEquals(new SwitchResponse.Traced(List.of(sent)), SwitchResponse.decode(new SwitchRequest.Trace(-1, 0), 200, lower));
        // what this project's switch wrote before issue 14.5
        String nested = lower.replace("[\"message\",[\"client-7\",4],{\"payload\":\"ok\",\"kind\":[\"Response\",[\"org.xen.xapi.storage\",3]]}]",
                "[\"Message\",[[\"client-7\",4],{\"payload\":\"ok\",\"kind\":[\"Response\",[\"org.xen.xapi.storage\",3]]}]]");
        assertEquals(new SwitchResponse.Traced(List.of(sent)), SwitchResponse.decode(new SwitchRequest.Trace(-1, 0), 200, nested));
        assertThrows(ProtocolException.class, () -> SwitchResponse.decode(new SwitchRequest.Trace(-1, 0), 200,
                lower.replace("[\"message\",[\"client-7\",4],", "[\"message\",")));
        assertThrows(ProtocolException.class, () -> SwitchResponse.decode(new SwitchRequest.Trace(-1, 0), 200,
                "{\"events\":[[2,{\"time\":1.0,\"queue\":\"q\",\"message\":[\"Ack\",[\"q\",3],[\"q\",4]]}]]}"));
    }

    /**
     * Upstream's diagnostics dump (mswitch.ml {@code snapshot}): {@code start_time} is always 0 and every time
     * is ns since the switch started, here 1 h 2 min 3 s.
     */
    @Test
    void upstreamsDiagnosticsCountFromTheSwitchStart() {
        String body = "{\"start_time\":0,\"current_time\":3723000000000,\"permanent_queues\":{\"org.xen.xapi.storage\":"
                + "{\"next_transfer_expected\":3753000000000,\"queue_contents\":[]}},\"transient_queues\":{}}";
        Diagnostics d = ((SwitchResponse.Dump) SwitchResponse.decode(new SwitchRequest.DiagnosticsRequest(), 200, body)).diagnostics();
        assertEquals(Diagnostics.Clock.SINCE_SWITCH_START, d.clock());
        assertEquals(Diagnostics.Clock.EPOCH, new Diagnostics(1_700_000_000_000_000_000L, 1_700_000_005_000_000_000L,
                Map.of(), Map.of()).clock());
    }

    @Test
    void unknownPathsAreNotRequests() {
        assertEquals(Optional.empty(), SwitchRequest.parse("GET", "/nonsense/x", ""));
        assertEquals(Optional.empty(), SwitchRequest.parse("POST", "/login/x", "")); // login is a GET
        assertEquals(Optional.empty(), SwitchRequest.parse("GET", "/request/q/r", ""));
        assertEquals(Optional.empty(), SwitchRequest.parse("GET", "/ack/q", ""));
    }

    @Test
    void malformedArgumentsAreProtocolErrors() {
        assertThrows(ProtocolException.class, () -> SwitchRequest.parse("GET", "/ack/q/notanumber", ""));
        assertThrows(ProtocolException.class, () -> SwitchRequest.parse("POST", "/transfer", "{not json"));
        assertThrows(ProtocolException.class, () -> SwitchRequest.parse("POST", "/transfer", "{\"queues\":[]}"));
        assertThrows(ProtocolException.class, () -> SwitchRequest.parse("POST", "/response/a/b/x", "p"));
        assertThrows(ProtocolException.class, () -> SwitchRequest.parse("GET", "/login/%zz", ""));
        assertThrows(ProtocolException.class, () -> SwitchResponse.decode(new SwitchRequest.Send("q", REQ), 200, "[[\"q\"]]"));
        assertThrows(ProtocolException.class, () -> SwitchResponse.decode(new SwitchRequest.Login("t"), 500, ""));
    }

    @Test
    void upstreamTransferBodiesWithIntegerTimeoutAndListOptionAreAccepted() {
        // rpclib reads an int where a float is declared; an option may also arrive as [x]
        Optional<SwitchRequest> r = SwitchRequest.parse("POST", "/transfer", "{\"from\":[\"5\"],\"timeout\":30,\"queues\":[\"a\"]}");
        assertEquals(Optional.of(new SwitchRequest.Transfer(Optional.of("5"), 30.0, List.of("a"))), r);
    }

    @Test
    void floatsAreWrittenAsYojsonDoes() {
        assertEquals("30.0", RpcJson.formatFloat(30));
        assertEquals("0.5", RpcJson.formatFloat(0.5));
        assertEquals("-2.0", RpcJson.formatFloat(-2));
        assertEquals("1700000000.25", RpcJson.formatFloat(1_700_000_000.25));
        assertTrue(Double.parseDouble(RpcJson.formatFloat(1e-7)) == 1e-7);
    }
}
