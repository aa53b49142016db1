package org.xenstorage.idl.api;

import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.UpdatesResult;

/**
 * SMAPIv2 {@code UPDATES}: long-poll for changed objects.
 * Every method may throw {@link StorageException}; each one's default body answers {@code Unimplemented}
 * with its wire name, so an implementation overrides only the calls it serves.
 */
public interface UpdatesApi {
    /**
     * {@code UPDATES.get}: long-poll: ids changed since token {@code from} ({@code ""} = from start), blocking up to {@code timeout} s; returns next token
     */
    @RpcMethod("UPDATES.get")
    default CompletableFuture<UpdatesResult> get(
            @Param("dbg") String dbg,
            @Param("from") String from,
            @Param("timeout") Optional<Integer> timeout) {
        throw StorageException.unimplemented("UPDATES.get");
    }
}
