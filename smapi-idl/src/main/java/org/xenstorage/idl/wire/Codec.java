package org.xenstorage.idl.wire;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Turns values of one IDL type into rpclib's JSON shape and back.
 *
 * @param <T> the Java type
 */
public interface Codec<T> {
    JsonNode encode(T value);

    /** @throws WireException when the JSON does not have the type's shape */
    T decode(JsonNode node);
}
