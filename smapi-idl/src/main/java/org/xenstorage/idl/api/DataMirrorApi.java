package org.xenstorage.idl.api;

import java.util.List;
import java.util.Map;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.MirrorInfo;
import org.xenstorage.idl.types.MirrorReceiveResult;
import org.xenstorage.idl.types.VdiInfo;

/**
 * SMAPIv2 {@code DATA.MIRROR}: the storage-migration mirror protocol, with the names of both upstream
 * versions served (xen-api HEAD and v25.11.0; see docs/smapi-idl.md, "Two interface versions").
 * Every method may throw {@link StorageException}; each one's default body answers {@code Unimplemented}
 * with its wire name, so an implementation overrides only the calls it serves.
 */
public interface DataMirrorApi {
    /**
     * {@code DATA.MIRROR.send_start}: source side: start mirroring to the prepared remote mirror (in practice called in-process; mux/v1 wire servers return Unimplemented). QUIRK: upstream's server binding passes wire {@code dp} to the implementation's {@code task_id} and vice versa; decode by name and use the names as documented here
     */
    @RpcMethod("DATA.MIRROR.send_start")
    default void sendStart(
            @Param("dbg") String dbg,
            @Param("dp") String dp,
            @Param("task_id") String taskId,
            @Param("src_sr") String srcSr,
            @Param("vdi") String vdi,
            @Param("image_format") String imageFormat,
            @Param("mirror_vm") String mirrorVm,
            @Param("id") String id,
            @Param("local_vdi") VdiInfo localVdi,
            @Param("copy_vm") String copyVm,
            @Param("live_vm") String liveVm,
            @Param("url") String url,
            @Param("recv_result") MirrorReceiveResult recvResult,
            @Param("dest_sr") String destSr,
            @Param("verify_dest") boolean verifyDest) {
        throw StorageException.unimplemented("DATA.MIRROR.send_start");
    }

    /**
     * {@code DATA.MIRROR.start} (xen-api v25.11.0; HEAD replaced it with {@code send_start}, driven by xapi
     * itself): source side of a storage migration: mirror {@code vdi} into SR {@code dest} at remote
     * {@code url}, as a task whose id it returns.
     *
     * @deprecated served for v25.11.0 callers only; HEAD has no such method
     */
    @Deprecated
    @RpcMethod("DATA.MIRROR.start")
    default String start(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("dp") String dp,
            @Param("mirror_vm") String mirrorVm,
            @Param("copy_vm") String copyVm,
            @Param("url") String url,
            @Param("dest") String dest,
            @Param("verify_dest") boolean verifyDest) {
        throw StorageException.unimplemented("DATA.MIRROR.start");
    }

    /**
     * {@code DATA.MIRROR.stop} (xen-api v25.11.0; HEAD stops a mirror inside xapi): stop the local mirror
     * {@code id} and cancel its remote receive.
     *
     * @deprecated served for v25.11.0 callers only; HEAD has no such method
     */
    @Deprecated
    @RpcMethod("DATA.MIRROR.stop")
    default void stop(@Param("dbg") String dbg, @Param("id") String id) {
        throw StorageException.unimplemented("DATA.MIRROR.stop");
    }

    /**
     * {@code DATA.MIRROR.import_activate} (xen-api v25.11.0): HEAD's {@code DATA.import_activate} under its
     * old name, same parameters and result. The Java name differs from the wire name so that a class
     * serving both {@code DATA} and {@code DATA.MIRROR} keeps the two apart.
     *
     * @deprecated served for v25.11.0 callers only; HEAD calls {@code DATA.import_activate}
     */
    @Deprecated
    @RpcMethod("DATA.MIRROR.import_activate")
    default String mirrorImportActivate(
            @Param("dbg") String dbg,
            @Param("dp") String dp,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("vm") String vm) {
        throw StorageException.unimplemented("DATA.MIRROR.import_activate");
    }

    /**
     * {@code DATA.MIRROR.get_nbd_server} (xen-api v25.11.0): HEAD's {@code DATA.get_nbd_server} under its
     * old name, same parameters and result (Java name: see {@link #mirrorImportActivate}).
     *
     * @deprecated served for v25.11.0 callers only; HEAD calls {@code DATA.get_nbd_server}
     */
    @Deprecated
    @RpcMethod("DATA.MIRROR.get_nbd_server")
    default String mirrorGetNbdServer(
            @Param("dbg") String dbg,
            @Param("dp") String dp,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("vm") String vm) {
        throw StorageException.unimplemented("DATA.MIRROR.get_nbd_server");
    }

    /**
     * {@code DATA.MIRROR.receive_start}: D
     *
     * @deprecated kept because older xapis still call it during cross-version storage migration
     */
    @Deprecated
    @RpcMethod("DATA.MIRROR.receive_start")
    default MirrorReceiveResult receiveStart(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("vdi_info") VdiInfo vdiInfo,
            @Param("id") String id,
            @Param("similar") List<String> similar) {
        throw StorageException.unimplemented("DATA.MIRROR.receive_start");
    }

    /**
     * {@code DATA.MIRROR.receive_start2}: D
     *
     * @deprecated kept because older xapis still call it during cross-version storage migration
     */
    @Deprecated
    @RpcMethod("DATA.MIRROR.receive_start2")
    default MirrorReceiveResult receiveStart2(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("vdi_info") VdiInfo vdiInfo,
            @Param("id") String id,
            @Param("similar") List<String> similar,
            @Param("vm") String vm) {
        throw StorageException.unimplemented("DATA.MIRROR.receive_start2");
    }

    /**
     * {@code DATA.MIRROR.receive_start3}: destination: create mirror VDI, return how to mirror
     */
    @RpcMethod("DATA.MIRROR.receive_start3")
    default MirrorReceiveResult receiveStart3(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("vdi_info") VdiInfo vdiInfo,
            @Param("id") String id,
            @Param("image_format") String imageFormat,
            @Param("similar") List<String> similar,
            @Param("vm") String vm,
            @Param("url") String url,
            @Param("verify_dest") boolean verifyDest) {
        throw StorageException.unimplemented("DATA.MIRROR.receive_start3");
    }

    /**
     * {@code DATA.MIRROR.receive_finalize}: D
     *
     * @deprecated kept because older xapis still call it during cross-version storage migration
     */
    @Deprecated
    @RpcMethod("DATA.MIRROR.receive_finalize")
    default void receiveFinalize(@Param("dbg") String dbg, @Param("id") String id) {
        throw StorageException.unimplemented("DATA.MIRROR.receive_finalize");
    }

    /**
     * {@code DATA.MIRROR.receive_finalize2}: D
     *
     * @deprecated kept because older xapis still call it during cross-version storage migration
     */
    @Deprecated
    @RpcMethod("DATA.MIRROR.receive_finalize2")
    default void receiveFinalize2(@Param("dbg") String dbg, @Param("id") String id) {
        throw StorageException.unimplemented("DATA.MIRROR.receive_finalize2");
    }

    /**
     * {@code DATA.MIRROR.receive_finalize3}: destination: stop mirror, compose, clean up (after source VM paused)
     */
    @RpcMethod("DATA.MIRROR.receive_finalize3")
    default void receiveFinalize3(
            @Param("dbg") String dbg,
            @Param("id") String id,
            @Param("sr") String sr,
            @Param("url") String url,
            @Param("verify_dest") boolean verifyDest) {
        throw StorageException.unimplemented("DATA.MIRROR.receive_finalize3");
    }

    /**
     * {@code DATA.MIRROR.receive_cancel}: D
     *
     * @deprecated kept because older xapis still call it during cross-version storage migration
     */
    @Deprecated
    @RpcMethod("DATA.MIRROR.receive_cancel")
    default void receiveCancel(@Param("dbg") String dbg, @Param("id") String id) {
        throw StorageException.unimplemented("DATA.MIRROR.receive_cancel");
    }

    /**
     * {@code DATA.MIRROR.receive_cancel2}: destination cleanup on failure
     */
    @RpcMethod("DATA.MIRROR.receive_cancel2")
    default void receiveCancel2(
            @Param("dbg") String dbg,
            @Param("id") String id,
            @Param("url") String url,
            @Param("verify_dest") boolean verifyDest) {
        throw StorageException.unimplemented("DATA.MIRROR.receive_cancel2");
    }

    /**
     * {@code DATA.MIRROR.pre_deactivate_hook}: called before deactivating a mirrored VDI
     */
    @RpcMethod("DATA.MIRROR.pre_deactivate_hook")
    default void preDeactivateHook(
            @Param("dbg") String dbg,
            @Param("dp") String dp,
            @Param("sr") String sr,
            @Param("vdi") String vdi) {
        throw StorageException.unimplemented("DATA.MIRROR.pre_deactivate_hook");
    }

    /**
     * {@code DATA.MIRROR.has_mirror_failed}.
     */
    @RpcMethod("DATA.MIRROR.has_mirror_failed")
    default boolean hasMirrorFailed(@Param("dbg") String dbg, @Param("id") String id, @Param("sr") String sr) {
        throw StorageException.unimplemented("DATA.MIRROR.has_mirror_failed");
    }

    /**
     * {@code DATA.MIRROR.list}.
     */
    @RpcMethod("DATA.MIRROR.list")
    default Map<String, MirrorInfo> list(@Param("dbg") String dbg) {
        throw StorageException.unimplemented("DATA.MIRROR.list");
    }

    /**
     * {@code DATA.MIRROR.stat}.
     */
    @RpcMethod("DATA.MIRROR.stat")
    default MirrorInfo stat(@Param("dbg") String dbg, @Param("id") String id) {
        throw StorageException.unimplemented("DATA.MIRROR.stat");
    }
}
