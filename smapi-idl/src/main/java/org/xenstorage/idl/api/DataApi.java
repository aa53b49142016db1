package org.xenstorage.idl.api;

import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.MirrorOperation;
import org.xenstorage.idl.types.MirrorStatus;

/**
 * SMAPIv2 {@code DATA}: copying and mirroring VDI contents.
 * Every method may throw {@link StorageException}; each one's default body answers {@code Unimplemented}
 * with its wire name, so an implementation overrides only the calls it serves.
 */
public interface DataApi {
    /**
     * {@code DATA.copy}: async copy of vdi to SR {@code dest} at remote {@code url}
     */
    @RpcMethod("DATA.copy")
    default String copy(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("vm") String vm,
            @Param("url") String url,
            @Param("dest") String dest,
            @Param("verify_dest") boolean verifyDest) {
        throw StorageException.unimplemented("DATA.copy");
    }

    /**
     * {@code DATA.mirror}: SMAPIv3: start mirroring to NBD {@code url}
     */
    @RpcMethod("DATA.mirror")
    default MirrorOperation mirror(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("image_format") String imageFormat,
            @Param("vm") String vm,
            @Param("url") String url) {
        throw StorageException.unimplemented("DATA.mirror");
    }

    /**
     * {@code DATA.stat}: progress of a v3 copy/mirror operation
     */
    @RpcMethod("DATA.stat")
    default MirrorStatus stat(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("vm") String vm,
            @Param("operation") MirrorOperation operation) {
        throw StorageException.unimplemented("DATA.stat");
    }

    /**
     * {@code DATA.import_activate}: socket accepting an fd via SCM_RIGHTS (v1 mirroring)
     */
    @RpcMethod("DATA.import_activate")
    default String importActivate(
            @Param("dbg") String dbg,
            @Param("dp") String dp,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("vm") String vm) {
        throw StorageException.unimplemented("DATA.import_activate");
    }

    /**
     * {@code DATA.get_nbd_server}: path of a generic NBD server for the VDI
     */
    @RpcMethod("DATA.get_nbd_server")
    default String getNbdServer(
            @Param("dbg") String dbg,
            @Param("dp") String dp,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("vm") String vm) {
        throw StorageException.unimplemented("DATA.get_nbd_server");
    }
}
