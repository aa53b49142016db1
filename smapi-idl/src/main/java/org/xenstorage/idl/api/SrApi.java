package org.xenstorage.idl.api;

import java.util.List;
import java.util.Map;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.ProbeResult;
import org.xenstorage.idl.types.Scan2Result;
import org.xenstorage.idl.types.SrInfo;
import org.xenstorage.idl.types.VdiInfo;

/**
 * SMAPIv2 {@code SR}: storage repositories.
 * Every method may throw {@link StorageException}; each one's default body answers {@code Unimplemented}
 * with its wire name, so an implementation overrides only the calls it serves.
 */
public interface SrApi {
    /**
     * {@code SR.create}: create SR; returns possibly amended device_config
     */
    @RpcMethod("SR.create")
    default Map<String, String> create(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("name_label") String nameLabel,
            @Param("name_description") String nameDescription,
            @Param("device_config") Map<String, String> deviceConfig,
            @Param("physical_size") long physicalSize) {
        throw StorageException.unimplemented("SR.create");
    }

    /**
     * {@code SR.set_name_label}: rename
     */
    @RpcMethod("SR.set_name_label")
    default void setNameLabel(@Param("dbg") String dbg, @Param("sr") String sr, @Param("new_name_label") String newNameLabel) {
        throw StorageException.unimplemented("SR.set_name_label");
    }

    /**
     * {@code SR.set_name_description}: redescribe
     */
    @RpcMethod("SR.set_name_description")
    default void setNameDescription(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("new_name_description") String newNameDescription) {
        throw StorageException.unimplemented("SR.set_name_description");
    }

    /**
     * {@code SR.probe}: look for SRs of the plugin on {@code queue}
     */
    @RpcMethod("SR.probe")
    default ProbeResult probe(
            @Param("dbg") String dbg,
            @Param("queue") String queue,
            @Param("device_config") Map<String, String> deviceConfig,
            @Param("sm_config") Map<String, String> smConfig) {
        throw StorageException.unimplemented("SR.probe");
    }

    /**
     * {@code SR.attach}: attach SR on this host
     */
    @RpcMethod("SR.attach")
    default void attach(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("device_config") Map<String, String> deviceConfig) {
        throw StorageException.unimplemented("SR.attach");
    }

    /**
     * {@code SR.detach}: detach (deactivating/detaching VDIs first); may fail Sr_not_attached
     */
    @RpcMethod("SR.detach")
    default void detach(@Param("dbg") String dbg, @Param("sr") String sr) {
        throw StorageException.unimplemented("SR.detach");
    }

    /**
     * {@code SR.reset}: forget all state (backend VM rebooted)
     */
    @RpcMethod("SR.reset")
    default void reset(@Param("dbg") String dbg, @Param("sr") String sr) {
        throw StorageException.unimplemented("SR.reset");
    }

    /**
     * {@code SR.destroy}: make SR unattachable/unprobeable
     */
    @RpcMethod("SR.destroy")
    default void destroy(@Param("dbg") String dbg, @Param("sr") String sr) {
        throw StorageException.unimplemented("SR.destroy");
    }

    /**
     * {@code SR.scan}: Deprecated (Remote.SR.scan) — list VDIs
     *
     * @deprecated kept because older xapis still call it during cross-version storage migration
     */
    @Deprecated
    @RpcMethod("SR.scan")
    default List<VdiInfo> scan(@Param("dbg") String dbg, @Param("sr") String sr) {
        throw StorageException.unimplemented("SR.scan");
    }

    /**
     * {@code SR.scan2}: list VDIs + SR stat
     */
    @RpcMethod("SR.scan2")
    default Scan2Result scan2(@Param("dbg") String dbg, @Param("sr") String sr) {
        throw StorageException.unimplemented("SR.scan2");
    }

    /**
     * {@code SR.update_snapshot_info_src}: SXM source side: push snapshot metadata to remote SR at {@code url} ({@code verify_dest} = verify TLS cert)
     */
    @RpcMethod("SR.update_snapshot_info_src")
    default void updateSnapshotInfoSrc(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("url") String url,
            @Param("dest") String dest,
            @Param("dest_vdi") String destVdi,
            @Param("snapshot_pairs") Map<String, String> snapshotPairs,
            @Param("verify_dest") boolean verifyDest) {
        throw StorageException.unimplemented("SR.update_snapshot_info_src");
    }

    /**
     * {@code SR.update_snapshot_info_dest}: SXM dest side: set is_a_snapshot/snapshot_time/snapshot_of on local copies
     */
    @RpcMethod("SR.update_snapshot_info_dest")
    default void updateSnapshotInfoDest(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("src_vdi") VdiInfo srcVdi,
            @Param("snapshot_pairs") Map<String, VdiInfo> snapshotPairs) {
        throw StorageException.unimplemented("SR.update_snapshot_info_dest");
    }

    /**
     * {@code SR.stat}: instantaneous SR stats
     */
    @RpcMethod("SR.stat")
    default SrInfo stat(@Param("dbg") String dbg, @Param("sr") String sr) {
        throw StorageException.unimplemented("SR.stat");
    }

    /**
     * {@code SR.list}: currently attached SRs
     */
    @RpcMethod("SR.list")
    default List<String> list(@Param("dbg") String dbg) {
        throw StorageException.unimplemented("SR.list");
    }
}
