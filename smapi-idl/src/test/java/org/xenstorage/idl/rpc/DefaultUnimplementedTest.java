package org.xenstorage.idl.rpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
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
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.wire.Json;

/**
 * Every SMAPIv2 method's default body answers {@code ["Unimplemented","<wire name>"]}, the name taken from
 * the method table (so a mistyped literal in an interface fails here), and a bare implementation answers
 * on the wire exactly as a module that is not served at all (a {@code null} slot).
 */
class DefaultUnimplementedTest {

    /** One implementation per module that overrides nothing. */
    private static final Map<Class<?>, Object> BARE = Map.of(
            QueryApi.class, new QueryApi() { },
            DpApi.class, new DpApi() { },
            SrApi.class, new SrApi() { },
            VdiApi.class, new VdiApi() { },
            GetByNameApi.class, new GetByNameApi() { },
            DataApi.class, new DataApi() { },
            DataMirrorApi.class, new DataMirrorApi() { },
            PolicyApi.class, new PolicyApi() { },
            TaskApi.class, new TaskApi() { },
            UpdatesApi.class, new UpdatesApi() { });

    private static final StorageService BARE_SERVICE = new StorageService((QueryApi) BARE.get(QueryApi.class),
            (DpApi) BARE.get(DpApi.class), (SrApi) BARE.get(SrApi.class), (VdiApi) BARE.get(VdiApi.class),
            (GetByNameApi) BARE.get(GetByNameApi.class), (DataApi) BARE.get(DataApi.class),
            (DataMirrorApi) BARE.get(DataMirrorApi.class), (PolicyApi) BARE.get(PolicyApi.class),
            (TaskApi) BARE.get(TaskApi.class), (UpdatesApi) BARE.get(UpdatesApi.class));

    private static final StorageService NOT_SERVED = StorageService.of(new Object());

    @Test
    void everyModuleHasABareImplementationAndEveryMethodADefault() {
        assertEquals(Set.copyOf(StorageService.MODULES), BARE.keySet());
        assertEquals(81, MethodTable.all().size());
        for (MethodDescriptor d : MethodTable.all()) {
            assertTrue(d.method().isDefault(), d.wireName() + " has no default body");
        }
    }

    @TestFactory
    Stream<DynamicTest> everyDefaultAnswersUnimplementedWithItsWireName() throws IOException {
        List<JsonNode> lines = GoldenMethodsTest.goldenLines();
        assertEquals(MethodTable.all().size(), lines.size(), "one golden request per method");
        return lines.stream().map(line -> DynamicTest.dynamicTest(line.get("method").textValue(), () -> {
            String name = line.get("method").textValue();
            MethodDescriptor method = MethodTable.byWireName(name).orElseThrow();
            StorageError expected = new StorageError.Unimplemented(method.wireName());
            Object[] args = GoldenMethodsTest.goldenArgs(GoldenMethodsTest.spec(name)).toArray();

            // in process: the default body itself
            InvocationTargetException thrown = assertThrows(InvocationTargetException.class,
                    () -> method.method().invoke(BARE.get(method.module()), args));
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
