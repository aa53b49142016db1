package org.xenstorage.idl.api;

import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.SrVdi;

/**
 * SMAPIv2 top-level {@code get_by_name}: find a VDI by name across SRs.
 * Every method may throw {@link StorageException}; each one's default body answers {@code Unimplemented}
 * with its wire name, so an implementation overrides only the calls it serves.
 */
public interface GetByNameApi {
    /**
     * {@code get_by_name}: find a VDI by name in any SR
     */
    @RpcMethod("get_by_name")
    default SrVdi getByName(@Param("dbg") String dbg, @Param("name") String name) {
        throw StorageException.unimplemented("get_by_name");
    }
}
