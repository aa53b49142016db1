package org.xenstorage.idl.wire;

import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;

/** Captures a generic type for tests: {@code new TypeToken<List<String>>() { }.type()}. */
abstract class TypeToken<T> {
    Type type() {
        return ((ParameterizedType) getClass().getGenericSuperclass()).getActualTypeArguments()[0];
    }
}
