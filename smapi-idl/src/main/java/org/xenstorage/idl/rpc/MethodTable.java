package org.xenstorage.idl.rpc;

import java.lang.reflect.Method;
import java.lang.reflect.Parameter;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.xenstorage.idl.api.Param;
import org.xenstorage.idl.api.RpcMethod;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.wire.WireCodec;

/** Every SMAPIv2 method, read once from the annotated module interfaces. */
public final class MethodTable {
    private static final Map<String, MethodDescriptor> BY_NAME;
    private static final Map<Method, MethodDescriptor> BY_METHOD;

    static {
        Map<String, MethodDescriptor> byName = new LinkedHashMap<>();
        Map<Method, MethodDescriptor> byMethod = new LinkedHashMap<>();
        for (Class<?> module : StorageService.MODULES) {
            for (Method m : module.getMethods()) {
                RpcMethod rpc = m.getAnnotation(RpcMethod.class);
                if (rpc == null) {
                    continue;
                }
                MethodDescriptor d = describe(module, m, rpc);
                if (byName.put(d.wireName(), d) != null) {
                    throw new IllegalStateException("method declared twice: " + d.wireName());
                }
                byMethod.put(m, d);
            }
        }
        BY_NAME = Collections.unmodifiableMap(byName);
        BY_METHOD = Collections.unmodifiableMap(byMethod);
    }

    private MethodTable() {
    }

    /** The method of that wire name (case-sensitive, as upstream). */
    public static Optional<MethodDescriptor> byWireName(String name) {
        return Optional.ofNullable(BY_NAME.get(name));
    }

    static MethodDescriptor byJavaMethod(Method m) {
        return BY_METHOD.get(m);
    }

    /**
     * Builds the wire codec of every parameter and result type, failing if one has no wire form. Not done when
     * the table loads: a client making one call (smctl) needs the codecs of that call only, and building all of
     * them is most of the table's cost. A server checks them all when it starts ({@link StorageDispatcher}).
     *
     * @throws IllegalArgumentException naming a type without a wire form
     */
    public static void checkWireForms() {
        for (MethodDescriptor d : BY_NAME.values()) {
            for (MethodDescriptor.ParamSpec p : d.params()) {
                WireCodec.of(p.type());
            }
            WireCodec.of(d.resultType());
        }
    }

    /** Every SMAPIv2 method. */
    public static Collection<MethodDescriptor> all() {
        return BY_NAME.values();
    }

    private static MethodDescriptor describe(Class<?> module, Method m, RpcMethod rpc) {
        List<MethodDescriptor.ParamSpec> params = new ArrayList<>();
        for (Parameter p : m.getParameters()) {
            Param name = p.getAnnotation(Param.class);
            if (name == null) {
                throw new IllegalStateException(m + ": parameter without @Param");
            }
            Type t = p.getParameterizedType();
            boolean optional = p.getType() == Optional.class;
            Type valueType = optional ? ((ParameterizedType) t).getActualTypeArguments()[0] : t;
            params.add(new MethodDescriptor.ParamSpec(name.value(), valueType, optional));
        }
        boolean async = m.getReturnType() == CompletableFuture.class;
        Type result = async ? ((ParameterizedType) m.getGenericReturnType()).getActualTypeArguments()[0]
                : m.getGenericReturnType();
        if (result == void.class) {
            result = Void.class;
        }
        return new MethodDescriptor(rpc.value(), module, m, params,
                rpc.unitParam().isEmpty() ? Optional.empty() : Optional.of(rpc.unitParam()), result, async,
                m.isAnnotationPresent(Deprecated.class));
    }
}
