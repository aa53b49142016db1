package org.xenstorage.idl.api;

import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.xenstorage.idl.types.UpdatesResult;

/**
 * SMAPIv2 {@code UPDATES}: long-poll for changed objects.
 * Every method may throw {@link org.xenstorage.idl.errors.StorageException}.
 */
public interface UpdatesApi {
    /**
     * {@code UPDATES.get}: long-poll: ids changed since token {@code from} ({@code ""} = from start), blocking up to {@code timeout} s; returns next token
     */
    @RpcMethod("UPDATES.get")
    CompletableFuture<UpdatesResult> get(
            @Param("dbg") String dbg,
            @Param("from") String from,
            @Param("timeout") Optional<Integer> timeout);
}
