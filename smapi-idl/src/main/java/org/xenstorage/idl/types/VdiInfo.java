package org.xenstorage.idl.types;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.xenstorage.idl.wire.WireDefault;

/**
 * {@code vdi_info}: what SMAPIv2 knows about a VDI. Defaults are rpclib's {@code [@default]}s: they apply
 * when the member is missing or ill-typed on input.
 *
 * @param vdi the VDI's key within its SR (its "location")
 */
public record VdiInfo(
        String vdi,
        @WireDefault("[]") Optional<String> uuid,
        @WireDefault("\"\"") String contentId,
        String nameLabel,
        @WireDefault("\"\"") String nameDescription,
        @WireDefault("\"user\"") String ty,
        @WireDefault("\"\"") String metadataOfPool,
        @WireDefault("false") boolean isASnapshot,
        @WireDefault("\"19700101T00:00:00Z\"") String snapshotTime,
        @WireDefault("\"\"") String snapshotOf,
        @WireDefault("false") boolean readOnly,
        @WireDefault("false") boolean cbtEnabled,
        @WireDefault("0") long virtualSize,
        @WireDefault("0") long physicalUtilisation,
        @WireDefault("true") boolean persistent,
        @WireDefault("false") boolean sharable,
        @WireDefault("{}") Map<String, String> smConfig,
        @WireDefault("[]") List<String> tags) {

    /** rpclib's epoch timestamp, the default {@code snapshot_time}. */
    public static final String EPOCH = "19700101T00:00:00Z";

    public VdiInfo {
        Objects.requireNonNull(vdi, "vdi");
        Objects.requireNonNull(uuid, "uuid");
        Objects.requireNonNull(contentId, "content_id");
        Objects.requireNonNull(nameLabel, "name_label");
        Objects.requireNonNull(nameDescription, "name_description");
        Objects.requireNonNull(ty, "ty");
        Objects.requireNonNull(metadataOfPool, "metadata_of_pool");
        Objects.requireNonNull(snapshotTime, "snapshot_time");
        Objects.requireNonNull(snapshotOf, "snapshot_of");
        smConfig = Copies.map(smConfig);
        tags = List.copyOf(tags);
    }

    /** Upstream's defaults for every field but the two required ones. */
    public static VdiInfo defaults(String vdi, String nameLabel) {
        return new VdiInfo(vdi, Optional.empty(), "", nameLabel, "", "user", "", false, EPOCH, "", false, false, 0, 0,
                true, false, Map.of(), List.of());
    }

    public VdiInfo withVdi(String v) {
        return new VdiInfo(v, uuid, contentId, nameLabel, nameDescription, ty, metadataOfPool, isASnapshot,
                snapshotTime, snapshotOf, readOnly, cbtEnabled, virtualSize, physicalUtilisation, persistent, sharable,
                smConfig, tags);
    }

    public VdiInfo withUuid(Optional<String> u) {
        return new VdiInfo(vdi, u, contentId, nameLabel, nameDescription, ty, metadataOfPool, isASnapshot,
                snapshotTime, snapshotOf, readOnly, cbtEnabled, virtualSize, physicalUtilisation, persistent, sharable,
                smConfig, tags);
    }

    public VdiInfo withContentId(String c) {
        return new VdiInfo(vdi, uuid, c, nameLabel, nameDescription, ty, metadataOfPool, isASnapshot,
                snapshotTime, snapshotOf, readOnly, cbtEnabled, virtualSize, physicalUtilisation, persistent, sharable,
                smConfig, tags);
    }

    public VdiInfo withNames(String label, String description) {
        return new VdiInfo(vdi, uuid, contentId, label, description, ty, metadataOfPool, isASnapshot,
                snapshotTime, snapshotOf, readOnly, cbtEnabled, virtualSize, physicalUtilisation, persistent, sharable,
                smConfig, tags);
    }

    public VdiInfo withSizes(long virtual, long physical) {
        return new VdiInfo(vdi, uuid, contentId, nameLabel, nameDescription, ty, metadataOfPool, isASnapshot,
                snapshotTime, snapshotOf, readOnly, cbtEnabled, virtual, physical, persistent, sharable,
                smConfig, tags);
    }

    public VdiInfo withSnapshot(boolean isSnapshot, String time, String of) {
        return new VdiInfo(vdi, uuid, contentId, nameLabel, nameDescription, ty, metadataOfPool, isSnapshot,
                time, of, readOnly, cbtEnabled, virtualSize, physicalUtilisation, persistent, sharable,
                smConfig, tags);
    }

    public VdiInfo withFlags(boolean ro, boolean cbt, boolean persist, boolean share) {
        return new VdiInfo(vdi, uuid, contentId, nameLabel, nameDescription, ty, metadataOfPool, isASnapshot,
                snapshotTime, snapshotOf, ro, cbt, virtualSize, physicalUtilisation, persist, share,
                smConfig, tags);
    }

    public VdiInfo withTy(String type) {
        return new VdiInfo(vdi, uuid, contentId, nameLabel, nameDescription, type, metadataOfPool, isASnapshot,
                snapshotTime, snapshotOf, readOnly, cbtEnabled, virtualSize, physicalUtilisation, persistent, sharable,
                smConfig, tags);
    }

    public VdiInfo withSmConfig(Map<String, String> config) {
        return new VdiInfo(vdi, uuid, contentId, nameLabel, nameDescription, ty, metadataOfPool, isASnapshot,
                snapshotTime, snapshotOf, readOnly, cbtEnabled, virtualSize, physicalUtilisation, persistent, sharable,
                config, tags);
    }

    public VdiInfo withTags(List<String> t) {
        return new VdiInfo(vdi, uuid, contentId, nameLabel, nameDescription, ty, metadataOfPool, isASnapshot,
                snapshotTime, snapshotOf, readOnly, cbtEnabled, virtualSize, physicalUtilisation, persistent, sharable,
                smConfig, t);
    }
}
