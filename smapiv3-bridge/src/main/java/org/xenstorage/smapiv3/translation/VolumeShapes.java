package org.xenstorage.smapiv3.translation;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.SrInfo;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.smapiv3.idl.SrStat;
import org.xenstorage.smapiv3.idl.Volume;

/**
 * The repeated shapes of the translation: a SMAPIv2 vdi_info from a SMAPIv3 volume (its metadata keys
 * carry what SMAPIv3 has no field for) and a SMAPIv2 sr_info from a SMAPIv3 sr_stat.
 */
public final class VolumeShapes {
    /** Metadata keys the bridge stores through {@code Volume.set}. */
    public static final String VDI_TYPE = "vdi-type";
    public static final String CONTENT_ID = "content_id";
    public static final String SNAPSHOT_TIME = "snapshot_time";
    public static final String IS_A_SNAPSHOT = "is_a_snapshot";
    public static final String SNAPSHOT_OF = "snapshot_of";
    public static final String CLONE_ON_BOOT = "clone-on-boot";
    public static final String SM_CONFIG_PREFIX = "_sm_config_";
    public static final String TAG_PREFIX = "tags";

    private static final DateTimeFormatter XAPI_TIME =
            DateTimeFormatter.ofPattern("yyyyMMdd'T'HH:mm:ss'Z'").withZone(ZoneOffset.UTC);

    private VolumeShapes() {
    }

    /** Now, in xapi's basic ISO-8601 form {@code YYYYMMDDTHH:MM:SSZ}. */
    public static String now() {
        return XAPI_TIME.format(Instant.now());
    }

    public static VdiInfo vdiOfVolume(Volume v) {
        Map<String, String> keys = v.keys();
        Map<String, String> smConfig = new LinkedHashMap<>();
        List<String> tags = new ArrayList<>();
        keys.keySet().stream().sorted().forEach(k -> {
            if (k.startsWith(SM_CONFIG_PREFIX)) {
                smConfig.putIfAbsent(k.substring(SM_CONFIG_PREFIX.length()), keys.get(k));
            }
        });
        keys.keySet().forEach(k -> {
            if (k.startsWith(TAG_PREFIX)) {
                tags.add(k.substring(TAG_PREFIX.length()));
            }
        });
        return new VdiInfo(
                v.key(),
                v.uuid(),
                keys.getOrDefault(CONTENT_ID, ""),
                v.name(),
                v.description(),
                keys.getOrDefault(VDI_TYPE, ""),
                "",
                parseBool(keys.get(IS_A_SNAPSHOT), v.key()),
                keys.getOrDefault(SNAPSHOT_TIME, VdiInfo.EPOCH),
                keys.getOrDefault(SNAPSHOT_OF, ""),
                !v.readWrite(),
                v.cbtEnabled().orElse(false),
                v.virtualSize(),
                v.physicalUtilisation(),
                true,
                v.sharable(),
                smConfig,
                tags);
    }

    private static boolean parseBool(String s, String key) {
        if (s == null || s.equals("false")) {
            return false;
        }
        if (s.equals("true")) {
            return true;
        }
        // upstream's bool_of_string raises here; we name the culprit instead of a bare Invalid_argument
        throw StorageException.internal("volume " + key + " has is_a_snapshot=" + s + ", expected true or false");
    }

    public static SrInfo srInfoOf(SrStat stat) {
        return new SrInfo(stat.uuid(), stat.name(), stat.description(), stat.totalSpace(), stat.freeSpace(),
                stat.clustered(), stat.health().toV2());
    }

    /** Scan's "transient filtering": drop the temporary clones that clone-on-boot keys point at. */
    public static List<Volume> withoutTransients(List<Volume> volumes) {
        List<String> transients = volumes.stream().map(v -> v.key(CLONE_ON_BOOT)).flatMap(Optional::stream).toList();
        return volumes.stream().filter(v -> !transients.contains(v.key())).toList();
    }
}
