package org.xenstorage.idl.api;

import java.util.List;
import java.util.Map;
import org.xenstorage.idl.types.AttachInfo;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.VdiInfo;

/**
 * SMAPIv2 {@code VDI}: virtual disk images.
 * Every method may throw {@link org.xenstorage.idl.errors.StorageException}.
 */
public interface VdiApi {
    /**
     * {@code VDI.create}: create; returns actual info (size may be rounded up)
     */
    @RpcMethod("VDI.create")
    VdiInfo create(@Param("dbg") String dbg, @Param("sr") String sr, @Param("vdi_info") VdiInfo vdiInfo);

    /**
     * {@code VDI.set_name_label}.
     */
    @RpcMethod("VDI.set_name_label")
    void setNameLabel(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("new_name_label") String newNameLabel);

    /**
     * {@code VDI.set_name_description}.
     */
    @RpcMethod("VDI.set_name_description")
    void setNameDescription(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("new_name_description") String newNameDescription);

    /**
     * {@code VDI.snapshot}: snapshot of {@code vdi_info.vdi}
     */
    @RpcMethod("VDI.snapshot")
    VdiInfo snapshot(@Param("dbg") String dbg, @Param("sr") String sr, @Param("vdi_info") VdiInfo vdiInfo);

    /**
     * {@code VDI.clone}: clone of {@code vdi_info.vdi}
     */
    @RpcMethod("VDI.clone")
    VdiInfo clone(@Param("dbg") String dbg, @Param("sr") String sr, @Param("vdi_info") VdiInfo vdiInfo);

    /**
     * {@code VDI.resize}: grow to ≥ new_size; returns actual size
     */
    @RpcMethod("VDI.resize")
    long resize(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("new_size") long newSize);

    /**
     * {@code VDI.destroy}: delete
     */
    @RpcMethod("VDI.destroy")
    void destroy(@Param("dbg") String dbg, @Param("sr") String sr, @Param("vdi") String vdi);

    /**
     * {@code VDI.stat}.
     */
    @RpcMethod("VDI.stat")
    VdiInfo stat(@Param("dbg") String dbg, @Param("sr") String sr, @Param("vdi") String vdi);

    /**
     * {@code VDI.introduce}: check VDI at {@code location} exists, return its info
     */
    @RpcMethod("VDI.introduce")
    VdiInfo introduce(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("uuid") String uuid,
            @Param("sm_config") Map<String, String> smConfig,
            @Param("location") String location);

    /**
     * {@code VDI.set_persistent}.
     */
    @RpcMethod("VDI.set_persistent")
    void setPersistent(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("persistent") boolean persistent);

    /**
     * {@code VDI.epoch_begin}: VDI joins a starting VM; non-persistent ⇒ reset on shutdown
     */
    @RpcMethod("VDI.epoch_begin")
    void epochBegin(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("vm") String vm,
            @Param("persistent") boolean persistent);

    /**
     * {@code VDI.attach}: Deprecated (Remote.VDI.attach)
     *
     * @deprecated kept because older xapis still call it during cross-version storage migration
     */
    @Deprecated
    @RpcMethod("VDI.attach")
    AttachInfo attach(
            @Param("dbg") String dbg,
            @Param("dp") String dp,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("read_write") boolean readWrite);

    /**
     * {@code VDI.attach2}: Deprecated (Remote.VDI.attach2)
     *
     * @deprecated kept because older xapis still call it during cross-version storage migration
     */
    @Deprecated
    @RpcMethod("VDI.attach2")
    Backend attach2(
            @Param("dbg") String dbg,
            @Param("dp") String dp,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("read_write") boolean readWrite);

    /**
     * {@code VDI.attach3}: attach for {@code vm} (domid string)
     */
    @RpcMethod("VDI.attach3")
    Backend attach3(
            @Param("dbg") String dbg,
            @Param("dp") String dp,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("vm") String vm,
            @Param("read_write") boolean readWrite);

    /**
     * {@code VDI.activate}: Deprecated (Remote.VDI.activate)
     *
     * @deprecated kept because older xapis still call it during cross-version storage migration
     */
    @Deprecated
    @RpcMethod("VDI.activate")
    void activate(@Param("dbg") String dbg, @Param("dp") String dp, @Param("sr") String sr, @Param("vdi") String vdi);

    /**
     * {@code VDI.activate3}: activate read-write
     */
    @RpcMethod("VDI.activate3")
    void activate3(
            @Param("dbg") String dbg,
            @Param("dp") String dp,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("vm") String vm);

    /**
     * {@code VDI.activate_readonly}: activate read-only
     */
    @RpcMethod("VDI.activate_readonly")
    void activateReadonly(
            @Param("dbg") String dbg,
            @Param("dp") String dp,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("vm") String vm);

    /**
     * {@code VDI.deactivate}.
     */
    @RpcMethod("VDI.deactivate")
    void deactivate(
            @Param("dbg") String dbg,
            @Param("dp") String dp,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("vm") String vm);

    /**
     * {@code VDI.detach}.
     */
    @RpcMethod("VDI.detach")
    void detach(
            @Param("dbg") String dbg,
            @Param("dp") String dp,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("vm") String vm);

    /**
     * {@code VDI.epoch_end}: VDI leaves a shutting-down VM
     */
    @RpcMethod("VDI.epoch_end")
    void epochEnd(@Param("dbg") String dbg, @Param("sr") String sr, @Param("vdi") String vdi, @Param("vm") String vm);

    /**
     * {@code VDI.get_url}: URL for direct data access
     */
    @RpcMethod("VDI.get_url")
    String getUrl(@Param("dbg") String dbg, @Param("sr") String sr, @Param("vdi") String vdi);

    /**
     * {@code VDI.similar_content}: VDIs with similar content (SXM base choice)
     */
    @RpcMethod("VDI.similar_content")
    List<VdiInfo> similarContent(@Param("dbg") String dbg, @Param("sr") String sr, @Param("vdi") String vdi);

    /**
     * {@code VDI.get_by_name}: lookup by name in SR
     */
    @RpcMethod("VDI.get_by_name")
    VdiInfo getByName(@Param("dbg") String dbg, @Param("sr") String sr, @Param("name") String name);

    /**
     * {@code VDI.set_content_id}.
     */
    @RpcMethod("VDI.set_content_id")
    void setContentId(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("content_id") String contentId);

    /**
     * {@code VDI.compose}: layer updates of child {@code vdi2} onto parent {@code vdi1}, modifying vdi2
     */
    @RpcMethod("VDI.compose")
    void compose(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("vdi1") String vdi1,
            @Param("vdi2") String vdi2);

    /**
     * {@code VDI.add_to_sm_config}.
     */
    @RpcMethod("VDI.add_to_sm_config")
    void addToSmConfig(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("key") String key,
            @Param("value") String value);

    /**
     * {@code VDI.remove_from_sm_config}.
     */
    @RpcMethod("VDI.remove_from_sm_config")
    void removeFromSmConfig(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("key") String key);

    /**
     * {@code VDI.add_tags}.
     */
    @RpcMethod("VDI.add_tags")
    void addTags(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("key") String key);

    /**
     * {@code VDI.remove_tags}.
     */
    @RpcMethod("VDI.remove_tags")
    void removeTags(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("key") String key);

    /**
     * {@code VDI.enable_cbt}: changed-block tracking on
     */
    @RpcMethod("VDI.enable_cbt")
    void enableCbt(@Param("dbg") String dbg, @Param("sr") String sr, @Param("vdi") String vdi);

    /**
     * {@code VDI.disable_cbt}.
     */
    @RpcMethod("VDI.disable_cbt")
    void disableCbt(@Param("dbg") String dbg, @Param("sr") String sr, @Param("vdi") String vdi);

    /**
     * {@code VDI.data_destroy}: delete data, keep CBT metadata
     */
    @RpcMethod("VDI.data_destroy")
    void dataDestroy(@Param("dbg") String dbg, @Param("sr") String sr, @Param("vdi") String vdi);

    /**
     * {@code VDI.list_changed_blocks}: base64 bitmap; NB the second param's wire name is {@code vdi_tp} (upstream typo, keep it)
     */
    @RpcMethod("VDI.list_changed_blocks")
    String listChangedBlocks(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("vdi_from") String vdiFrom,
            @Param("vdi_tp") String vdiTp);

    /**
     * {@code VDI.revert}: revert {@code snapshot_info.snapshot_of} to the snapshot
     */
    @RpcMethod("VDI.revert")
    void revert(@Param("dbg") String dbg, @Param("sr") String sr, @Param("snapshot_info") VdiInfo snapshotInfo);
}
