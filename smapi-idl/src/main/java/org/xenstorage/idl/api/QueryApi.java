package org.xenstorage.idl.api;

import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.QueryResult;

/**
 * SMAPIv2 {@code Query}: what a backend is and how it is doing.
 * Every method may throw {@link StorageException}; each one's default body answers {@code Unimplemented}
 * with its wire name, so an implementation overrides only the calls it serves.
 */
public interface QueryApi {
    /**
     * {@code Query.query}: driver description, features, config keys, smapi_version
     */
    @RpcMethod("Query.query")
    default QueryResult query(@Param("dbg") String dbg) {
        throw StorageException.unimplemented("Query.query");
    }

    /**
     * {@code Query.diagnostics}: free-text diagnostics of the backend
     */
    @RpcMethod("Query.diagnostics")
    default String diagnostics(@Param("dbg") String dbg) {
        throw StorageException.unimplemented("Query.diagnostics");
    }
}
