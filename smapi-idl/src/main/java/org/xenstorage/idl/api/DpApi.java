package org.xenstorage.idl.api;

import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.DpStat;

/**
 * SMAPIv2 {@code DP}: datapaths, the handles through which VDIs are attached.
 * Every method may throw {@link org.xenstorage.idl.errors.StorageException}.
 */
public interface DpApi {
    /**
     * {@code DP.create}: create/return a datapath handle named from {@code id} (typically returns {@code id})
     */
    @RpcMethod("DP.create")
    String create(@Param("dbg") String dbg, @Param("id") String id);

    /**
     * {@code DP.destroy}: older form of destroy2: deactivate+detach everything on {@code dp}, free it; {@code allow_leak} = succeed even if cleanup fails
     */
    @RpcMethod("DP.destroy")
    void destroy(@Param("dbg") String dbg, @Param("dp") String dp, @Param("allow_leak") boolean allowLeak);

    /**
     * {@code DP.destroy2}: same, with the VDI/VM context (required by SMAPIv3)
     */
    @RpcMethod("DP.destroy2")
    void destroy2(
            @Param("dbg") String dbg,
            @Param("dp") String dp,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("vm") String vm,
            @Param("allow_leak") boolean allowLeak);

    /**
     * {@code DP.attach_info}: return the {@code backend} previously returned by attach3 for an already-attached VDI
     */
    @RpcMethod("DP.attach_info")
    Backend attachInfo(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("dp") String dp,
            @Param("vm") String vm);

    /**
     * {@code DP.diagnostics}: printable list of datapaths and resources; note: no {@code dbg}, params {@code {"unit":null}}
     */
    @RpcMethod(value = "DP.diagnostics", unitParam = "unit")
    String diagnostics();

    /**
     * {@code DP.stat_vdi}: per-dp state of the VDI plus superstate
     */
    @RpcMethod(value = "DP.stat_vdi", unitParam = "unit")
    DpStat statVdi(@Param("dbg") String dbg, @Param("sr") String sr, @Param("vdi") String vdi);
}
