package org.xenstorage.idl.api;

import java.util.List;
import java.util.Map;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.AttachInfo;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.VdiInfo;

/**
 * SMAPIv2 {@code VDI}: virtual disk images.
 * Every method may throw {@link StorageException}; each one's default body answers {@code Unimplemented}
 * with its wire name, so an implementation overrides only the calls it serves.
 */
public interface VdiApi {
    /**
     * {@code VDI.create}: create; returns actual info (size may be rounded up)
     */
    @RpcMethod("VDI.create")
    default VdiInfo create(@Param("dbg") String dbg, @Param("sr") String sr, @Param("vdi_info") VdiInfo vdiInfo) {
        throw StorageException.unimplemented("VDI.create");
    }

    /**
     * {@code VDI.set_name_label}.
     */
    @RpcMethod("VDI.set_name_label")
    default void setNameLabel(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("new_name_label") String newNameLabel) {
        throw StorageException.unimplemented("VDI.set_name_label");
    }

    /**
     * {@code VDI.set_name_description}.
     */
    @RpcMethod("VDI.set_name_description")
    default void setNameDescription(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("new_name_description") String newNameDescription) {
        throw StorageException.unimplemented("VDI.set_name_description");
    }

    /**
     * {@code VDI.snapshot}: snapshot of {@code vdi_info.vdi}
     */
    @RpcMethod("VDI.snapshot")
    default VdiInfo snapshot(@Param("dbg") String dbg, @Param("sr") String sr, @Param("vdi_info") VdiInfo vdiInfo) {
        throw StorageException.unimplemented("VDI.snapshot");
    }

    /**
     * {@code VDI.clone}: clone of {@code vdi_info.vdi}
     */
    @RpcMethod("VDI.clone")
    default VdiInfo clone(@Param("dbg") String dbg, @Param("sr") String sr, @Param("vdi_info") VdiInfo vdiInfo) {
        throw StorageException.unimplemented("VDI.clone");
    }

    /**
     * {@code VDI.resize}: grow to ≥ new_size; returns actual size
     */
    @RpcMethod("VDI.resize")
    default long resize(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("new_size") long newSize) {
        throw StorageException.unimplemented("VDI.resize");
    }

    /**
     * {@code VDI.destroy}: delete
     */
    @RpcMethod("VDI.destroy")
    default void destroy(@Param("dbg") String dbg, @Param("sr") String sr, @Param("vdi") String vdi) {
        throw StorageException.unimplemented("VDI.destroy");
    }

    /**
     * {@code VDI.stat}.
     */
    @RpcMethod("VDI.stat")
    default VdiInfo stat(@Param("dbg") String dbg, @Param("sr") String sr, @Param("vdi") String vdi) {
        throw StorageException.unimplemented("VDI.stat");
    }

    /**
     * {@code VDI.introduce}: check VDI at {@code location} exists, return its info
     */
    @RpcMethod("VDI.introduce")
    default VdiInfo introduce(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("uuid") String uuid,
            @Param("sm_config") Map<String, String> smConfig,
            @Param("location") String location) {
        throw StorageException.unimplemented("VDI.introduce");
    }

    /**
     * {@code VDI.set_persistent}.
     */
    @RpcMethod("VDI.set_persistent")
    default void setPersistent(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("persistent") boolean persistent) {
        throw StorageException.unimplemented("VDI.set_persistent");
    }

    /**
     * {@code VDI.epoch_begin}: VDI joins a starting VM; non-persistent ⇒ reset on shutdown
     */
    @RpcMethod("VDI.epoch_begin")
    default void epochBegin(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("vm") String vm,
            @Param("persistent") boolean persistent) {
        throw StorageException.unimplemented("VDI.epoch_begin");
    }

    /**
     * {@code VDI.attach}: Deprecated (Remote.VDI.attach)
     *
     * @deprecated kept because older xapis still call it during cross-version storage migration
     */
    @Deprecated
    @RpcMethod("VDI.attach")
    default AttachInfo attach(
            @Param("dbg") String dbg,
            @Param("dp") String dp,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("read_write") boolean readWrite) {
        throw StorageException.unimplemented("VDI.attach");
    }

    /**
     * {@code VDI.attach2}: Deprecated (Remote.VDI.attach2)
     *
     * @deprecated kept because older xapis still call it during cross-version storage migration
     */
    @Deprecated
    @RpcMethod("VDI.attach2")
    default Backend attach2(
            @Param("dbg") String dbg,
            @Param("dp") String dp,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("read_write") boolean readWrite) {
        throw StorageException.unimplemented("VDI.attach2");
    }

    /**
     * {@code VDI.attach3}: attach for {@code vm} (domid string)
     */
    @RpcMethod("VDI.attach3")
    default Backend attach3(
            @Param("dbg") String dbg,
            @Param("dp") String dp,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("vm") String vm,
            @Param("read_write") boolean readWrite) {
        throw StorageException.unimplemented("VDI.attach3");
    }

    /**
     * {@code VDI.activate}: Deprecated (Remote.VDI.activate)
     *
     * @deprecated kept because older xapis still call it during cross-version storage migration
     */
    @Deprecated
    @RpcMethod("VDI.activate")
    default void activate(@Param("dbg") String dbg, @Param("dp") String dp, @Param("sr") String sr, @Param("vdi") String vdi) {
        throw StorageException.unimplemented("VDI.activate");
    }

    /**
     * {@code VDI.activate3}: activate read-write
     */
    @RpcMethod("VDI.activate3")
    default void activate3(
            @Param("dbg") String dbg,
            @Param("dp") String dp,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("vm") String vm) {
        throw StorageException.unimplemented("VDI.activate3");
    }

    /**
     * {@code VDI.activate_readonly}: activate read-only
     */
    @RpcMethod("VDI.activate_readonly")
    default void activateReadonly(
            @Param("dbg") String dbg,
            @Param("dp") String dp,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("vm") String vm) {
        throw StorageException.unimplemented("VDI.activate_readonly");
    }

    /**
     * {@code VDI.deactivate}.
     */
    @RpcMethod("VDI.deactivate")
    default void deactivate(
            @Param("dbg") String dbg,
            @Param("dp") String dp,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("vm") String vm) {
        throw StorageException.unimplemented("VDI.deactivate");
    }

    /**
     * {@code VDI.detach}.
     */
    @RpcMethod("VDI.detach")
    default void detach(
            @Param("dbg") String dbg,
            @Param("dp") String dp,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("vm") String vm) {
        throw StorageException.unimplemented("VDI.detach");
    }

    /**
     * {@code VDI.epoch_end}: VDI leaves a shutting-down VM
     */
    @RpcMethod("VDI.epoch_end")
    default void epochEnd(@Param("dbg") String dbg, @Param("sr") String sr, @Param("vdi") String vdi, @Param("vm") String vm) {
        throw StorageException.unimplemented("VDI.epoch_end");
    }

    /**
     * {@code VDI.get_url}: URL for direct data access
     */
    @RpcMethod("VDI.get_url")
    default String getUrl(@Param("dbg") String dbg, @Param("sr") String sr, @Param("vdi") String vdi) {
        throw StorageException.unimplemented("VDI.get_url");
    }

    /**
     * {@code VDI.similar_content}: VDIs with similar content (SXM base choice)
     */
    @RpcMethod("VDI.similar_content")
    default List<VdiInfo> similarContent(@Param("dbg") String dbg, @Param("sr") String sr, @Param("vdi") String vdi) {
        throw StorageException.unimplemented("VDI.similar_content");
    }

    /**
     * {@code VDI.get_by_name}: lookup by name in SR
     */
    @RpcMethod("VDI.get_by_name")
    default VdiInfo getByName(@Param("dbg") String dbg, @Param("sr") String sr, @Param("name") String name) {
        throw StorageException.unimplemented("VDI.get_by_name");
    }

    /**
     * {@code VDI.set_content_id}.
     */
    @RpcMethod("VDI.set_content_id")
    default void setContentId(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("content_id") String contentId) {
        throw StorageException.unimplemented("VDI.set_content_id");
    }

    /**
     * {@code VDI.compose}: layer updates of child {@code vdi2} onto parent {@code vdi1}, modifying vdi2
     */
    @RpcMethod("VDI.compose")
    default void compose(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("vdi1") String vdi1,
            @Param("vdi2") String vdi2) {
        throw StorageException.unimplemented("VDI.compose");
    }

    /**
     * {@code VDI.add_to_sm_config}.
     */
    @RpcMethod("VDI.add_to_sm_config")
    default void addToSmConfig(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("key") String key,
            @Param("value") String value) {
        throw StorageException.unimplemented("VDI.add_to_sm_config");
    }

    /**
     * {@code VDI.remove_from_sm_config}.
     */
    @RpcMethod("VDI.remove_from_sm_config")
    default void removeFromSmConfig(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("key") String key) {
        throw StorageException.unimplemented("VDI.remove_from_sm_config");
    }

    /**
     * {@code VDI.add_tags}.
     */
    @RpcMethod("VDI.add_tags")
    default void addTags(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("key") String key) {
        throw StorageException.unimplemented("VDI.add_tags");
    }

    /**
     * {@code VDI.remove_tags}.
     */
    @RpcMethod("VDI.remove_tags")
    default void removeTags(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("vdi") String vdi,
            @Param("key") String key) {
        throw StorageException.unimplemented("VDI.remove_tags");
    }

    /**
     * {@code VDI.enable_cbt}: changed-block tracking on
     */
    @RpcMethod("VDI.enable_cbt")
    default void enableCbt(@Param("dbg") String dbg, @Param("sr") String sr, @Param("vdi") String vdi) {
        throw StorageException.unimplemented("VDI.enable_cbt");
    }

    /**
     * {@code VDI.disable_cbt}.
     */
    @RpcMethod("VDI.disable_cbt")
    default void disableCbt(@Param("dbg") String dbg, @Param("sr") String sr, @Param("vdi") String vdi) {
        throw StorageException.unimplemented("VDI.disable_cbt");
    }

    /**
     * {@code VDI.data_destroy}: delete data, keep CBT metadata
     */
    @RpcMethod("VDI.data_destroy")
    default void dataDestroy(@Param("dbg") String dbg, @Param("sr") String sr, @Param("vdi") String vdi) {
        throw StorageException.unimplemented("VDI.data_destroy");
    }

    /**
     * {@code VDI.list_changed_blocks}: base64 bitmap; NB the second param's wire name is {@code vdi_tp} (upstream typo, keep it)
     */
    @RpcMethod("VDI.list_changed_blocks")
    default String listChangedBlocks(
            @Param("dbg") String dbg,
            @Param("sr") String sr,
            @Param("vdi_from") String vdiFrom,
            @Param("vdi_tp") String vdiTp) {
        throw StorageException.unimplemented("VDI.list_changed_blocks");
    }

    /**
     * {@code VDI.revert}: revert {@code snapshot_info.snapshot_of} to the snapshot
     */
    @RpcMethod("VDI.revert")
    default void revert(@Param("dbg") String dbg, @Param("sr") String sr, @Param("snapshot_info") VdiInfo snapshotInfo) {
        throw StorageException.unimplemented("VDI.revert");
    }
}
