package org.xenstorage.idl.rpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiFunction;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.xenstorage.idl.api.DataApi;
import org.xenstorage.idl.api.DataMirrorApi;
import org.xenstorage.idl.api.DpApi;
import org.xenstorage.idl.api.GetByNameApi;
import org.xenstorage.idl.api.PolicyApi;
import org.xenstorage.idl.api.QueryApi;
import org.xenstorage.idl.api.SrApi;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.api.TaskApi;
import org.xenstorage.idl.api.UpdatesApi;
import org.xenstorage.idl.api.VdiApi;
import org.xenstorage.idl.wire.Json;

/**
 * One golden request/response pair per SMAPIv2 method of each upstream version served (xen-api HEAD and
 * v25.11.0, generated independently by {@code golden/generate_golden.py}): the server decodes the request into the right Java values and
 * encodes the result to the golden JSON; the client encodes the same Java values into the golden request
 * and decodes the golden response into the right result.
 */
class GoldenMethodsTest {

    static JsonNode resource(String name) throws IOException {
        try (InputStream in = GoldenMethodsTest.class.getResourceAsStream("/golden/" + name)) {
            assertNotNull(in, name);
            return Json.parse(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
    }

    /** The method tables of the upstream interface versions served: HEAD first, then v25.11.0. */
    static final List<String> METHOD_FILES = List.of("smapiv2-methods.json", "smapiv2-methods-v25.11.0.json");

    /** The golden pairs of every version served (HEAD's 81, then v25.11.0's 72), as the generator wrote them. */
    static List<JsonNode> goldenLines() throws IOException {
        List<JsonNode> out = new ArrayList<>(goldenLines("methods.golden.jsonl"));
        out.addAll(goldenLines("methods-v25.11.0.golden.jsonl"));
        return out;
    }

    static List<JsonNode> goldenLines(String file) throws IOException {
        try (InputStream in = GoldenMethodsTest.class.getResourceAsStream("/golden/" + file)) {
            assertNotNull(in, file);
            List<JsonNode> out = new ArrayList<>();
            for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                if (!line.isBlank()) {
                    out.add(Json.parse(line));
                }
            }
            return out;
        }
    }

    /** Integers and floats compared by value, whatever node class produced them. */
    static JsonNode normal(JsonNode n) throws IOException {
        return Json.parse(Json.write(n));
    }

    /** The method's declaration: HEAD's, or v25.11.0's for a method HEAD no longer has. */
    static JsonNode spec(String method) throws IOException {
        for (String file : METHOD_FILES) {
            for (JsonNode m : resource(file)) {
                if (m.get("method").textValue().equals(method)) {
                    return m;
                }
            }
        }
        throw new AssertionError("not in the spec: " + method);
    }

    /** The Java arguments of a method's golden request, in declaration order (the unit parameter left out). */
    static List<Object> goldenArgs(JsonNode specEntry) {
        List<Object> args = new ArrayList<>();
        for (JsonNode p : specEntry.get("params")) {
            if (!p.get("type").textValue().equals("unit")) {
                args.add(GoldenFixtures.param(p.get("name").textValue(), p.get("type").textValue()));
            }
        }
        return args;
    }

    @Test
    void methodTableMatchesUpstreamDeclarationsExactly() throws IOException {
        JsonNode head = resource("smapiv2-methods.json");
        JsonNode v25 = resource("smapiv2-methods-v25.11.0.json");
        assertEquals(81, head.size());
        assertEquals(72, v25.size());
        java.util.Set<String> declared = new java.util.TreeSet<>();
        java.util.Set<String> inHead = new java.util.HashSet<>();
        for (JsonNode methods : List.of(head, v25)) {
            for (JsonNode m : methods) {
                String name = m.get("method").textValue();
                declared.add(name);
                if (methods == head) {
                    inHead.add(name);
                }
                MethodDescriptor d = MethodTable.byWireName(name).orElseThrow(() -> new AssertionError("missing " + name));
                List<String> expected = new ArrayList<>();
                for (JsonNode p : m.get("params")) {
                    expected.add(p.get("name").textValue() + (p.path("optional").asBoolean() ? "?" : ""));
                }
                List<String> actual = d.params().stream().map(p -> p.name() + (p.optional() ? "?" : ""))
                        .collect(Collectors.toCollection(ArrayList::new));
                d.unitParam().ifPresent(actual::add);
                // a name both versions declare has the same parameters in both, so one Java method serves both
                assertEquals(expected, actual, name + (methods == head ? "" : " (v25.11.0)"));
                if (methods == head) {
                    assertEquals(m.path("deprecated").asBoolean(), d.deprecated(), name + " deprecated flag");
                } else if (!inHead.contains(name)) {
                    assertTrue(d.deprecated(), name + ": a v25.11.0 name HEAD dropped is deprecated here");
                }
            }
        }
        assertEquals(85, declared.size(), "HEAD's 81 and the 4 names only v25.11.0 has");
        assertEquals(List.copyOf(declared),
                MethodTable.all().stream().map(MethodDescriptor::wireName).sorted().toList());
        // every parameter and result type has a wire form (servers check this at start; the table itself no longer)
        MethodTable.checkWireForms();
    }

    @TestFactory
    Stream<DynamicTest> everyMethodRoundTripsTheGoldenVector() throws IOException {
        return goldenLines().stream().map(line -> DynamicTest.dynamicTest(line.get("method").textValue(), () -> {
            String name = line.get("method").textValue();
            MethodDescriptor method = MethodTable.byWireName(name).orElseThrow();
            JsonNode specEntry = spec(name);
            Object result = GoldenFixtures.result(name, specEntry.get("returns").textValue());
            List<Object> expectedArgs = goldenArgs(specEntry);

            // server: golden request → Java values → golden response
            AtomicReference<Method> called = new AtomicReference<>();
            AtomicReference<List<Object>> got = new AtomicReference<>();
            StorageService recording = recordingService(called, got, method.async() ? CompletableFuture.completedFuture(result) : result);
            String reply = new StorageDispatcher(recording).dispatch(Json.write(line.get("request"))).join();
            assertEquals(method.method(), called.get(), "dispatched to the declared Java method");
            assertEquals(expectedArgs, got.get(), "decoded arguments");
            assertEquals(normal(line.get("response")), normal(Json.parse(reply)), "encoded response");

            // client: Java values → golden request; golden response → Java result
            AtomicReference<String> sent = new AtomicReference<>();
            StorageService client = StorageClient.of(request -> {
                sent.set(request);
                return CompletableFuture.completedFuture(Json.write(line.get("response")));
            });
            Object proxy = client.implementationOf(method.module());
            Object returned = method.method().invoke(proxy, expectedArgs.toArray());
            if (method.async()) {
                returned = ((CompletableFuture<?>) returned).join();
            }
            ObjectNode expectedRequest = line.get("request").deepCopy();
            ObjectNode actualRequest = (ObjectNode) Json.parse(sent.get());
            assertTrue(actualRequest.get("id").isIntegralNumber(), "integer request id");
            expectedRequest.set("id", IntNode.valueOf(0));
            actualRequest.set("id", IntNode.valueOf(0));
            assertEquals(normal(expectedRequest), normal(actualRequest), "encoded request");
            assertEquals(List.copyOf(Json.parse(sent.get()).get("params").get(0).properties()).stream()
                    .map(e -> e.getKey()).toList(),
                    List.copyOf(line.get("request").get("params").get(0).properties()).stream()
                            .map(e -> e.getKey()).toList(),
                    "members in the OCaml client's order (reverse declaration)");
            assertEquals(result, returned, "decoded result");
        }));
    }

    /** A service whose every method records its call and returns the given value. */
    static StorageService recordingService(AtomicReference<Method> called, AtomicReference<List<Object>> args,
                                           Object result) {
        return answering((m, a) -> {
            called.set(m);
            args.set(a == null ? List.of() : Arrays.asList(a));
            return result;
        });
    }

    /** A service of dynamic proxies: every SMAPIv2 method call goes to {@code answer}. */
    static StorageService answering(BiFunction<Method, Object[], Object> answer) {
        Object[] impls = StorageService.MODULES.stream().map(module -> Proxy.newProxyInstance(
                module.getClassLoader(), new Class<?>[] {module}, (self, m, a) -> {
                    if (m.getDeclaringClass() == Object.class) {
                        return m.getName().equals("toString") ? "test service" : m.getName().equals("hashCode") ? 0 : false;
                    }
                    return answer.apply(m, a);
                })).toArray();
        return new StorageService((QueryApi) impls[0], (DpApi) impls[1], (SrApi) impls[2], (VdiApi) impls[3],
                (GetByNameApi) impls[4], (DataApi) impls[5], (DataMirrorApi) impls[6], (PolicyApi) impls[7],
                (TaskApi) impls[8], (UpdatesApi) impls[9]);
    }
}
