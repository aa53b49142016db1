package org.xenstorage.idl.wire;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * rpclib's type-level {@code [@@default C]}: on a case of a sealed variant, unknown tags decode to this
 * (argument-less) case instead of failing.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
public @interface DefaultVariant {
}
