package org.xenstorage.idl.rpc;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
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
import org.xenstorage.idl.wire.WireCodec;
import org.xenstorage.idl.wire.WireException;

/**
 * Client side of the SMAPIv2 JSON-RPC: typed proxies of every module that encode each call as xapi's
 * rpclib client does (named parameters in one object, emitted in reverse declaration order) and send it
 * through a pluggable {@link RpcTransport}. An error reply is thrown as {@link StorageException}; a reply
 * that is not a JSON-RPC response is thrown as an {@code Internal_error} naming the method.
 */
public final class StorageClient {
    private StorageClient() {
    }

    /** Proxies of every SMAPIv2 module over one transport. */
    public static StorageService of(RpcTransport transport) {
        return new StorageService(proxy(QueryApi.class, transport), proxy(DpApi.class, transport),
                proxy(SrApi.class, transport), proxy(VdiApi.class, transport), proxy(GetByNameApi.class, transport),
                proxy(DataApi.class, transport), proxy(DataMirrorApi.class, transport), proxy(PolicyApi.class, transport),
                proxy(TaskApi.class, transport), proxy(UpdatesApi.class, transport));
    }

    /** A proxy of one module. */
    public static <T> T proxy(Class<T> module, RpcTransport transport) {
        Objects.requireNonNull(transport);
        if (!StorageService.MODULES.contains(module)) {
            throw new IllegalArgumentException("not a SMAPIv2 module: " + module);
        }
        InvocationHandler handler = (self, method, args) -> {
            if (method.getDeclaringClass() == Object.class) {
                return switch (method.getName()) {
                    case "toString" -> "StorageClient(" + module.getSimpleName() + ")";
                    case "hashCode" -> System.identityHashCode(self);
                    case "equals" -> self == args[0];
                    default -> throw new UnsupportedOperationException(method.getName());
                };
            }
            return invoke(transport, method, args == null ? new Object[0] : args);
        };
        return module.cast(Proxy.newProxyInstance(module.getClassLoader(), new Class<?>[] {module}, handler));
    }

    /** The request text of a call, as it goes on the wire. */
    public static String encodeRequest(MethodDescriptor method, Object[] args) {
        ObjectNode params = Json.NODES.objectNode();
        method.unitParam().ifPresent(u -> params.set(u, NullNode.getInstance()));
        List<MethodDescriptor.ParamSpec> specs = method.params();
        for (int i = specs.size() - 1; i >= 0; i--) {
            MethodDescriptor.ParamSpec p = specs.get(i);
            Object value = args[i];
            if (p.optional()) {
                Optional<?> opt = (Optional<?>) value;
                if (opt == null || opt.isEmpty()) {
                    continue;
                }
                value = opt.get();
            }
            if (value == null) {
                throw new IllegalArgumentException(method.wireName() + ": parameter " + p.name() + " is null");
            }
            params.set(p.name(), WireCodec.encode(value, p.type()));
        }
        return JsonRpc.request(method.wireName(), params);
    }

    /** Decodes a reply text into the method's result, or throws its error as {@link StorageException}. */
    public static Object decodeResponse(MethodDescriptor method, String reply) {
        JsonRpc.Response response;
        try {
            response = JsonRpc.parseResponse(reply);
        } catch (IllegalArgumentException e) {
            throw StorageException.internal(method.wireName() + ": " + e.getMessage());
        }
        if (response.error().isPresent()) {
            StorageError error;
            try {
                error = WireCodec.decode(response.error().get(), StorageError.class);
            } catch (WireException e) {
                throw StorageException.internal(method.wireName() + ": undecodable error " + response.error().get());
            }
            throw new StorageException(error);
        }
        try {
            return WireCodec.decode(response.result(), method.resultType());
        } catch (WireException e) {
            throw StorageException.internal(method.wireName() + ": result does not decode: " + e.getMessage());
        }
    }

    private static Object invoke(RpcTransport transport, Method javaMethod, Object[] args) throws Throwable {
        MethodDescriptor method = MethodTable.byJavaMethod(javaMethod);
        if (method == null) {
            throw new UnsupportedOperationException(javaMethod + " is not a SMAPIv2 method");
        }
        String request = encodeRequest(method, args);
        CompletableFuture<String> reply;
        try {
            reply = transport.call(request);
        } catch (RuntimeException e) {
            reply = CompletableFuture.failedFuture(e);
        }
        CompletableFuture<Object> result = reply.thenApply(text -> decodeResponse(method, text));
        if (method.async()) {
            return result;
        }
        try {
            return result.get();
        } catch (ExecutionException | CompletionException e) {
            throw unwrap(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw StorageException.internal(method.wireName() + ": interrupted while waiting for the reply");
        }
    }

    private static Throwable unwrap(Throwable e) {
        Throwable t = e;
        while ((t instanceof ExecutionException || t instanceof CompletionException) && t.getCause() != null) {
            t = t.getCause();
        }
        if (t instanceof RuntimeException || t instanceof Error) {
            return t;
        }
        return StorageException.internal(t.toString());
    }

    /** The decoded value of a response, exposed for callers that forward raw calls. */
    static JsonNode resultNode(String reply) {
        return JsonRpc.parseResponse(reply).result();
    }
}
