package org.xenstorage.idl.api;

import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.DpStat;

/**
 * SMAPIv2 {@code DP}: datapaths, the handles through which VDIs are attached.
 * Every method may throw {@link StorageException}; each one's default body answers {@code Unimplemented}
 * with its wire name, so an implementation overrides only the calls it serves.
 */
public interface DpApi {
    /**
     * {@code DP.create}: create/return a datapath handle named from {@code id} (typically returns {@code id})
     */
    @RpcMethod("DP.create")
    default String create(@Param("dbg") String dbg, @Param("id") String id) {
        throw StorageException.unimplemented("DP.create");
    }

    /**
     * {@code DP.destroy}: older form of destroy2: deactivate+detach everything on {@code dp}, free it; {@code allow_leak} = succeed even if cleanup fails
     */
    @RpcMethod("DP.destroy")
    default void destroy(@Param("dbg") String dbg, @Param("dp") String dp, @Param("allow_leak") boolean allowLeak) {
        throw StorageException.unimplemented("DP.destroy");
    }

    /**
     * {@code DP.destroy2}: same, with the VDI/VM context (required by SMAPIv3)
     */
    @RpcMethod("DP.destroy2")
    default void destroy2(
            @Param("dbg") String dbg,
            @Param("dp") String dp,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("vm") String vm,
            @Param("allow_leak") boolean allowLeak) {
        throw StorageException.unimplemented("DP.destroy2");
    }

    /**
     * {@code DP.attach_info}: return the {@code backend} previously returned by attach3 for an already-attached VDI
     */
    @RpcMethod("DP.attach_info")
    default Backend attachInfo(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("dp") String dp,
            @Param("vm") String vm) {
        throw StorageException.unimplemented("DP.attach_info");
    }

    /**
     * {@code DP.diagnostics}: printable list of datapaths and resources; note: no {@code dbg}, params {@code {"unit":null}}
     */
    @RpcMethod(value = "DP.diagnostics", unitParam = "unit")
    default String diagnostics() {
        throw StorageException.unimplemented("DP.diagnostics");
    }

    /**
     * {@code DP.stat_vdi}: per-dp state of the VDI plus superstate
     */
    @RpcMethod(value = "DP.stat_vdi", unitParam = "unit")
    default DpStat statVdi(@Param("dbg") String dbg, @Param("sr") String sr, @Param("vdi") String vdi) {
        throw StorageException.unimplemented("DP.stat_vdi");
    }
}
