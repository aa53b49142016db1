package org.xenstorage.idl.api;

import org.xenstorage.idl.types.SrVdi;

/**
 * SMAPIv2 top-level {@code get_by_name}: find a VDI by name across SRs.
 * Every method may throw {@link org.xenstorage.idl.errors.StorageException}.
 */
public interface GetByNameApi {
    /**
     * {@code get_by_name}: find a VDI by name in any SR
     */
    @RpcMethod("get_by_name")
    SrVdi getByName(@Param("dbg") String dbg, @Param("name") String name);
}
