package org.xenstorage.idl.api;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/** Binds a Java method to its SMAPIv2 wire name. */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.METHOD)
public @interface RpcMethod {
    /** The JSON-RPC method name, e.g. {@code VDI.attach2}. */
    String value();

    /**
     * The name of a trailing {@code unit} parameter that the OCaml declaration has and Java leaves out
     * (sent as {@code "unit":null}), or empty when there is none.
     */
    String unitParam() default "";
}
