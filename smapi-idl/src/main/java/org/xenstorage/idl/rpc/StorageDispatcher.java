package org.xenstorage.idl.rpc;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.lang.reflect.InvocationTargetException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.wire.WireCodec;
import org.xenstorage.idl.wire.WireException;

/**
 * Server side of the SMAPIv2 JSON-RPC: request text in, implementation call, response text out, as
 * rpclib's {@code GenServer} behind xapi's queue loop does it. It never throws: malformed requests, unknown
 * methods, missing or ill-typed parameters and implementation failures all become a well-formed error
 * reply ({@code Internal_error} with upstream's wording, or the implementation's {@link StorageError}).
 *
 * <p>Departure from upstream (a QUIRK fixed): the reply carries the request's {@code id} instead of a
 * constant {@code 0}; rpclib clients ignore the value, so nothing on the wire depends on it.
 */
public final class StorageDispatcher {
    private static final Logger LOG = LoggerFactory.getLogger(StorageDispatcher.class);

    private final StorageService service;
    private final Map<String, Function<JsonRpc.Call, CompletableFuture<JsonNode>>> extensions;

    public StorageDispatcher(StorageService service) {
        this(service, Map.of());
        MethodTable.checkWireForms(); // a server fails at start, not on the first call, if a type has no wire form
    }

    private StorageDispatcher(StorageService service,
                              Map<String, Function<JsonRpc.Call, CompletableFuture<JsonNode>>> extensions) {
        this.service = Objects.requireNonNull(service);
        this.extensions = Map.copyOf(extensions);
    }

    /**
     * A dispatcher that also answers a non-SMAPIv2 method (an extension such as the daemon's SR registry
     * calls) with the same envelope. The handler's future fails with {@link StorageException} to answer
     * with a storage error.
     */
    public StorageDispatcher withExtension(String method,
                                           Function<JsonRpc.Call, CompletableFuture<JsonNode>> handler) {
        if (MethodTable.byWireName(method).isPresent()) {
            throw new IllegalArgumentException(method + " is a SMAPIv2 method, not an extension");
        }
        Map<String, Function<JsonRpc.Call, CompletableFuture<JsonNode>>> copy = new LinkedHashMap<>(extensions);
        copy.put(method, handler);
        return new StorageDispatcher(service, copy);
    }

    /** Handles one request; the future always completes normally with a JSON-RPC response text. */
    public CompletableFuture<String> dispatch(String request) {
        JsonRpc.Call call;
        try {
            call = JsonRpc.parseCall(request);
        } catch (JsonRpc.MalformedRequest e) {
            LOG.warn("rejecting malformed request: {}", e.getMessage());
            return CompletableFuture.completedFuture(
                    JsonRpc.failure(new StorageError.InternalError(e.getMessage()), e.id()));
        }
        try {
            return dispatch(call);
        } catch (RuntimeException e) {
            // a defect of ours, never a reason to drop the caller's reply
            LOG.error("unexpected failure dispatching {}", call.method(), e);
            return CompletableFuture.completedFuture(JsonRpc.failure(internal(e), call.id()));
        }
    }

    private CompletableFuture<String> dispatch(JsonRpc.Call call) {
        Function<JsonRpc.Call, CompletableFuture<JsonNode>> extension = extensions.get(call.method());
        if (extension != null) {
            return settle(invokeSafely(() -> extension.apply(call)), Function.identity(), call.id());
        }
        Optional<MethodDescriptor> found = MethodTable.byWireName(call.method());
        if (found.isEmpty()) {
            return failed(new StorageError.InternalError(OcamlText.exn("Idl.UnknownMethod", call.method())), call.id());
        }
        MethodDescriptor method = found.get();
        Object[] args;
        try {
            args = decodeArguments(method, call.params());
        } catch (WireException e) {
            return failed(new StorageError.InternalError(OcamlText.exn("Idl.MarshalError", e.getMessage())), call.id());
        }
        Object impl = service.implementationOf(method.module());
        if (impl == null) {
            return failed(new StorageError.Unimplemented(method.wireName()), call.id());
        }
        CompletableFuture<Object> result = invokeSafely(() -> invoke(method, impl, args));
        return settle(result, value -> WireCodec.encode(value, method.resultType()), call.id());
    }

    private static Object[] decodeArguments(MethodDescriptor method, ArrayNode params) {
        List<MethodDescriptor.ParamSpec> specs = method.params();
        boolean hasNamed = !specs.isEmpty() || method.unitParam().isPresent();
        if (!hasNamed) {
            return new Object[0];
        }
        if (params.size() == 0 || !params.get(0).isObject()) {
            throw new WireException("Marshalling error: Expecting dict as first argument when named parameters exist");
        }
        ObjectNode named = (ObjectNode) params.get(0);
        Object[] args = new Object[specs.size()];
        for (int i = 0; i < specs.size(); i++) {
            MethodDescriptor.ParamSpec p = specs.get(i);
            JsonNode value = named.get(p.name());
            if (value == null) {
                if (!p.optional()) {
                    throw new WireException("Expecting named argument '" + p.name() + "'");
                }
                args[i] = Optional.empty();
            } else {
                Object decoded = WireCodec.decode(value, p.type());
                args[i] = p.optional() ? Optional.of(decoded) : decoded;
            }
        }
        if (method.unitParam().isPresent()) {
            JsonNode unit = named.get(method.unitParam().get());
            if (unit == null) {
                throw new WireException("Expecting named argument '" + method.unitParam().get() + "'");
            }
            WireCodec.decode(unit, Void.class);
        }
        return args;
    }

    @SuppressWarnings("unchecked")
    private static CompletableFuture<Object> invoke(MethodDescriptor method, Object impl, Object[] args)
            throws Throwable {
        try {
            Object value = method.method().invoke(impl, args);
            if (method.async()) {
                if (value == null) {
                    throw new IllegalStateException(method.wireName() + " returned no future");
                }
                return (CompletableFuture<Object>) value;
            }
            return CompletableFuture.completedFuture(value);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    @FunctionalInterface
    private interface Invocation<T> {
        CompletableFuture<T> run() throws Throwable;
    }

    private static <T> CompletableFuture<T> invokeSafely(Invocation<T> invocation) {
        try {
            CompletableFuture<T> f = invocation.run();
            return f != null ? f : CompletableFuture.failedFuture(new IllegalStateException("no result future"));
        } catch (Throwable t) {
            return CompletableFuture.failedFuture(t);
        }
    }

    private static <T> CompletableFuture<String> settle(CompletableFuture<T> result, Function<T, JsonNode> encode,
                                                        JsonNode id) {
        return result.handle((value, failure) -> {
            if (failure != null) {
                return JsonRpc.failure(errorOf(failure), id);
            }
            try {
                return JsonRpc.success(encode.apply(value), id);
            } catch (RuntimeException e) {
                LOG.error("cannot encode a result", e);
                return JsonRpc.failure(internal(e), id);
            }
        });
    }

    private static CompletableFuture<String> failed(StorageError error, JsonNode id) {
        return CompletableFuture.completedFuture(JsonRpc.failure(error, id));
    }

    /** The wire error for any failure: a storage error as itself, anything else as {@code Internal_error}. */
    public static StorageError errorOf(Throwable failure) {
        Throwable t = failure;
        while ((t instanceof CompletionException || t instanceof ExecutionException
                || t instanceof InvocationTargetException) && t.getCause() != null) {
            t = t.getCause();
        }
        if (t instanceof StorageException se) {
            return se.error();
        }
        if (!(t instanceof WireException)) {
            LOG.warn("call failed with a non-storage exception", t);
        }
        return internal(t);
    }

    private static StorageError internal(Throwable t) {
        String message = t.getMessage();
        return new StorageError.InternalError(t.getClass().getName() + (message == null ? "" : ": " + message));
    }
}
