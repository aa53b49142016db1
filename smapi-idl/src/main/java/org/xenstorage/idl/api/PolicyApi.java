package org.xenstorage.idl.api;


/**
 * SMAPIv2 {@code Policy}: which (driver domain) VM serves a VDI.
 * Every method may throw {@link org.xenstorage.idl.errors.StorageException}.
 */
public interface PolicyApi {
    /**
     * {@code Policy.get_backend_vm}: which (driver domain) VM serves this VDI for {@code vm}
     */
    @RpcMethod("Policy.get_backend_vm")
    String getBackendVm(
            @Param("dbg") String dbg,
            @Param("vm") String vm,
            @Param("sr") String sr,
            @Param("vdi") String vdi);
}
