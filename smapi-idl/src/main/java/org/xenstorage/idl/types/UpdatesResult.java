package org.xenstorage.idl.types;

import java.util.List;
import java.util.Objects;
import org.xenstorage.idl.wire.WireTuple;

/** {@code (Dynamic.id list * string)}: what changed since a token, and the next token. */
@WireTuple
public record UpdatesResult(List<DynamicId> ids, String next) {
    public UpdatesResult {
        ids = List.copyOf(ids);
        Objects.requireNonNull(next);
    }
}
