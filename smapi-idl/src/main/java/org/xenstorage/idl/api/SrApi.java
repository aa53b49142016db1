package org.xenstorage.idl.api;

import java.util.List;
import java.util.Map;
import org.xenstorage.idl.types.ProbeResult;
import org.xenstorage.idl.types.Scan2Result;
import org.xenstorage.idl.types.SrInfo;
import org.xenstorage.idl.types.VdiInfo;

/**
 * SMAPIv2 {@code SR}: storage repositories.
 * Every method may throw {@link org.xenstorage.idl.errors.StorageException}.
 */
public interface SrApi {
    /**
     * {@code SR.create}: create SR; returns possibly amended device_config
     */
    @RpcMethod("SR.create")
    Map<String, String> create(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("name_label") String nameLabel,
            @Param("name_description") String nameDescription,
            @Param("device_config") Map<String, String> deviceConfig,
            @Param("physical_size") long physicalSize);

    /**
     * {@code SR.set_name_label}: rename
     */
    @RpcMethod("SR.set_name_label")
    void setNameLabel(@Param("dbg") String dbg, @Param("sr") String sr, @Param("new_name_label") String newNameLabel);

    /**
     * {@code SR.set_name_description}: redescribe
     */
    @RpcMethod("SR.set_name_description")
    void setNameDescription(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("new_name_description") String newNameDescription);

    /**
     * {@code SR.probe}: look for SRs of the plugin on {@code queue}
     */
    @RpcMethod("SR.probe")
    ProbeResult probe(
            @Param("dbg") String dbg,
            @Param("queue") String queue,
            @Param("device_config") Map<String, String> deviceConfig,
            @Param("sm_config") Map<String, String> smConfig);

    /**
     * {@code SR.attach}: attach SR on this host
     */
    @RpcMethod("SR.attach")
    void attach(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("device_config") Map<String, String> deviceConfig);

    /**
     * {@code SR.detach}: detach (deactivating/detaching VDIs first); may fail Sr_not_attached
     */
    @RpcMethod("SR.detach")
    void detach(@Param("dbg") String dbg, @Param("sr") String sr);

    /**
     * {@code SR.reset}: forget all state (backend VM rebooted)
     */
    @RpcMethod("SR.reset")
    void reset(@Param("dbg") String dbg, @Param("sr") String sr);

    /**
     * {@code SR.destroy}: make SR unattachable/unprobeable
     */
    @RpcMethod("SR.destroy")
    void destroy(@Param("dbg") String dbg, @Param("sr") String sr);

    /**
     * {@code SR.scan}: Deprecated (Remote.SR.scan) — list VDIs
     *
     * @deprecated kept because older xapis still call it during cross-version storage migration
     */
    @Deprecated
    @RpcMethod("SR.scan")
    List<VdiInfo> scan(@Param("dbg") String dbg, @Param("sr") String sr);

    /**
     * {@code SR.scan2}: list VDIs + SR stat
     */
    @RpcMethod("SR.scan2")
    Scan2Result scan2(@Param("dbg") String dbg, @Param("sr") String sr);

    /**
     * {@code SR.update_snapshot_info_src}: SXM source side: push snapshot metadata to remote SR at {@code url} ({@code verify_dest} = verify TLS cert)
     */
    @RpcMethod("SR.update_snapshot_info_src")
    void updateSnapshotInfoSrc(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("url") String url,
            @Param("dest") String dest,
            @Param("dest_vdi") String destVdi,
            @Param("snapshot_pairs") Map<String, String> snapshotPairs,
            @Param("verify_dest") boolean verifyDest);

    /**
     * {@code SR.update_snapshot_info_dest}: SXM dest side: set is_a_snapshot/snapshot_time/snapshot_of on local copies
     */
    @RpcMethod("SR.update_snapshot_info_dest")
    void updateSnapshotInfoDest(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("src_vdi") VdiInfo srcVdi,
            @Param("snapshot_pairs") Map<String, VdiInfo> snapshotPairs);

    /**
     * {@code SR.stat}: instantaneous SR stats
     */
    @RpcMethod("SR.stat")
    SrInfo stat(@Param("dbg") String dbg, @Param("sr") String sr);

    /**
     * {@code SR.list}: currently attached SRs
     */
    @RpcMethod("SR.list")
    List<String> list(@Param("dbg") String dbg);
}
