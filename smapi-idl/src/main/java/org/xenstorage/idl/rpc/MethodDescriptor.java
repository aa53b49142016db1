package org.xenstorage.idl.rpc;

import java.lang.reflect.Method;
import java.lang.reflect.Type;
import java.util.List;
import java.util.Optional;

/**
 * One SMAPIv2 method as the codec sees it: wire name, named parameters in declaration order, result type.
 *
 * @param wireName   e.g. {@code VDI.attach2}
 * @param module     the Java interface declaring it
 * @param method     the Java method
 * @param params     the named parameters Java passes, in declaration order
 * @param unitParam  the name of a trailing {@code unit} parameter Java leaves out, if any
 * @param resultType the result's type ({@code Void} for unit), unwrapped from {@code CompletableFuture}
 * @param async      whether the Java method returns a {@code CompletableFuture}
 * @param deprecated whether upstream marks the call as kept only for older callers
 */
public record MethodDescriptor(String wireName, Class<?> module, Method method, List<ParamSpec> params,
                               Optional<String> unitParam, Type resultType, boolean async, boolean deprecated) {
    public MethodDescriptor {
        params = List.copyOf(params);
    }

    /**
     * A named parameter.
     *
     * @param name     the wire name
     * @param type     the value's type (for an optional parameter, the type inside the option)
     * @param optional an {@code 'a option} parameter: omitted when None, the bare value when Some
     */
    public record ParamSpec(String name, Type type, boolean optional) {
    }
}
