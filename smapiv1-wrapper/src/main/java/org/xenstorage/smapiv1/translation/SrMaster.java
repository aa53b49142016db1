package org.xenstorage.smapiv1.translation;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;

/**
 * Which host is an SR's master, read from XenAPI (the embedded catalogue or the real xapi) on every call,
 * as xapi reads its database: a shared SR's master is the pool master, a local SR's is the host of its only
 * PBD. That decides the {@code SRmaster} flag of every SM call, and a master-only command on any other
 * host is refused with {@code Redirect(<pool master's address>)} before the driver runs, where the caller
 * (xapi's {@code redirectable_rpc}) sends it again.
 */
final class SrMaster {
    /** The SM commands upstream runs only with {@code SRmaster=true} (sm.ml's {@code srmaster_only}). */
    static final Set<String> MASTER_ONLY = Set.of("sr_scan", "vdi_create", "vdi_delete", "vdi_snapshot",
            "vdi_clone", "vdi_resize", "vdi_compose", "vdi_enable_cbt", "vdi_disable_cbt", "vdi_data_destroy",
            "vdi_list_changed_blocks");

    private final XapiDb db;
    private final String hostRef;

    SrMaster(XapiDb db, String hostRef) {
        this.db = db;
        this.hostRef = hostRef;
    }

    /**
     * Whether this host is the SR's master. An unshared SR with no PBD or with several fails as xapi's
     * {@code get_srmaster} does: {@code SR_NO_PBDS} / {@code SR_HAS_MULTIPLE_PBDS(<pbd uuids>)}.
     */
    boolean isMaster(String srRef) {
        if (isTrue(db.call("SR.get_shared", srRef))) {
            return hostRef.equals(poolMaster());
        }
        List<String> pbds = XapiDb.stringList(db.call("SR.get_PBDs", srRef));
        if (pbds.isEmpty()) {
            throw new StorageException(new StorageError.BackendError("SR_NO_PBDS", List.of()));
        }
        if (pbds.size() > 1) {
            List<String> uuids = new ArrayList<>();
            for (String pbd : pbds) {
                uuids.add(String.valueOf(db.call("PBD.get_uuid", pbd)));
            }
            throw new StorageException(new StorageError.BackendError("SR_HAS_MULTIPLE_PBDS", uuids));
        }
        return hostRef.equals(db.call("PBD.get_host", pbds.get(0)));
    }

    /** Refuses a master-only command whose device_config says this host is not the SR master. */
    void check(String command, Map<String, String> deviceConfig) {
        if (MASTER_ONLY.contains(command) && !"true".equals(deviceConfig.get("SRmaster"))) {
            throw redirect();
        }
    }

    /** {@code Redirect(Some <pool master's address>)}, as upstream's {@code redirect} (Pool_role's master address). */
    StorageException redirect() {
        String address = String.valueOf(db.call("host.get_address", poolMaster()));
        return new StorageException(new StorageError.Redirect(Optional.of(address)));
    }

    private String poolMaster() {
        List<String> pools = XapiDb.stringList(db.call("pool.get_all"));
        if (pools.isEmpty()) {
            throw StorageException.internal("XenAPI has no pool record");
        }
        return String.valueOf(db.call("pool.get_master", pools.get(0)));
    }

    private static boolean isTrue(Object o) {
        return o instanceof Boolean b ? b : "true".equalsIgnoreCase(String.valueOf(o));
    }
}
