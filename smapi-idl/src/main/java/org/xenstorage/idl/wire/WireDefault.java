package org.xenstorage.idl.wire;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * rpclib's {@code [@default v]}: the JSON text of the value used when the member is missing
 * <em>or fails to decode</em>. The member is always emitted.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.RECORD_COMPONENT, ElementType.FIELD, ElementType.METHOD, ElementType.PARAMETER})
public @interface WireDefault {
    String value();
}
