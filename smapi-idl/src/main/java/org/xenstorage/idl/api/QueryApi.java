package org.xenstorage.idl.api;

import org.xenstorage.idl.types.QueryResult;

/**
 * SMAPIv2 {@code Query}: what a backend is and how it is doing.
 * Every method may throw {@link org.xenstorage.idl.errors.StorageException}.
 */
public interface QueryApi {
    /**
     * {@code Query.query}: driver description, features, config keys, smapi_version
     */
    @RpcMethod("Query.query")
    QueryResult query(@Param("dbg") String dbg);

    /**
     * {@code Query.diagnostics}: free-text diagnostics of the backend
     */
    @RpcMethod("Query.diagnostics")
    String diagnostics(@Param("dbg") String dbg);
}
