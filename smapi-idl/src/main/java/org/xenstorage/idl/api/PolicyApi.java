package org.xenstorage.idl.api;

import org.xenstorage.idl.errors.StorageException;

/**
 * SMAPIv2 {@code Policy}: which (driver domain) VM serves a VDI.
 * Every method may throw {@link StorageException}; each one's default body answers {@code Unimplemented}
 * with its wire name, so an implementation overrides only the calls it serves.
 */
public interface PolicyApi {
    /**
     * {@code Policy.get_backend_vm}: which (driver domain) VM serves this VDI for {@code vm}
     */
    @RpcMethod("Policy.get_backend_vm")
    default String getBackendVm(
            @Param("dbg") String dbg,
            @Param("vm") String vm,
            @Param("sr") String sr,
            @Param("vdi") String vdi) {
        throw StorageException.unimplemented("Policy.get_backend_vm");
    }
}
