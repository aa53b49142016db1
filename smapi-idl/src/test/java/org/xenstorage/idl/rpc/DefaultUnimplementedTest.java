package org.xenstorage.idl.rpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.xenstorage.idl.api.QueryApi;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.wire.Json;

/**
 * Every SMAPIv2 method's default body answers {@code ["Unimplemented","<wire name>"]}, the name taken from
 * the method table (so a mistyped literal in an interface fails here), and a bare implementation answers
 * on the wire exactly as a module that is not served at all (a {@code null} slot).
 */
class DefaultUnimplementedTest {

    private static final StorageService NOT_SERVED = StorageService.of(new Object());

    /** Every slot filled with an implementation that overrides nothing. */
    private static final StorageService BARE_SERVICE = NOT_SERVED.orUnimplemented();

    @Test
    void everyMethodHasADefaultAndOrUnimplementedFillsEverySlotWithABareImplementation() {
        for (Class<?> module : StorageService.MODULES) {
            Object bare = BARE_SERVICE.implementationOf(module);
            assertTrue(module.isInstance(bare), module.getSimpleName());
            assertEquals(0, bare.getClass().getDeclaredMethods().length, module.getSimpleName() + " overrides nothing");
        }
        assertEquals(85, MethodTable.all().size()); // HEAD's 81 and v25.11.0's 4 old DATA.MIRROR names
        for (MethodDescriptor d : MethodTable.all()) {
            assertTrue(d.method().isDefault(), d.wireName() + " has no default body");
        }
    }

    @Test
    void orUnimplementedKeepsTheSlotsThatAreServed() {
        QueryApi served = new QueryApi() {
            @Override
            public String diagnostics(String dbg) {
                return "served";
            }
        };
        StorageService filled = StorageService.of(served).orUnimplemented();
        assertSame(served, filled.query());
        assertEquals("served", filled.query().diagnostics("dbg"));
        assertEquals(new StorageError.Unimplemented("Query.query"),
                assertThrows(StorageException.class, () -> filled.query().query("dbg")).error());
        assertEquals(new StorageError.Unimplemented("TASK.list"),
                assertThrows(StorageException.class, () -> filled.task().list("dbg")).error());
    }

    @TestFactory
    Stream<DynamicTest> everyDefaultAnswersUnimplementedWithItsWireName() throws IOException {
        List<JsonNode> lines = GoldenMethodsTest.goldenLines();
        assertEquals(MethodTable.all().size(), lines.stream().map(l -> l.get("method").textValue()).distinct().count(),
                "a golden request for every method");
        return lines.stream().map(line -> DynamicTest.dynamicTest(line.get("method").textValue(), () -> {
            String name = line.get("method").textValue();
            MethodDescriptor method = MethodTable.byWireName(name).orElseThrow();
            StorageError expected = new StorageError.Unimplemented(method.wireName());
            Object[] args = GoldenMethodsTest.goldenArgs(GoldenMethodsTest.spec(name)).toArray();

            // in process: the default body itself
            InvocationTargetException thrown = assertThrows(InvocationTargetException.class,
                    () -> method.method().invoke(BARE_SERVICE.implementationOf(method.module()), args));
            assertEquals(expected, assertInstanceOf(StorageException.class, thrown.getCause()).error());

            // on the wire: the exact error, and the same reply as a module nobody serves
            String request = Json.write(line.get("request"));
            String reply = new StorageDispatcher(BARE_SERVICE).dispatch(request).join();
            assertEquals(Json.parse("[\"Unimplemented\",\"" + name + "\"]"), Json.parse(reply).get("error"));
            assertEquals(new StorageDispatcher(NOT_SERVED).dispatch(request).join(), reply);

            // a client proxy over that server throws the same error
            StorageService client = StorageClient.of(new StorageDispatcher(BARE_SERVICE)::dispatch);
            Throwable failure;
            try {
                Object value = method.method().invoke(client.implementationOf(method.module()), args);
                failure = assertThrows(CompletionException.class, ((CompletableFuture<?>) value)::join).getCause();
            } catch (InvocationTargetException e) {
                failure = e.getCause();
            }
            assertEquals(expected, assertInstanceOf(StorageException.class, failure).error());
        }));
    }
}
