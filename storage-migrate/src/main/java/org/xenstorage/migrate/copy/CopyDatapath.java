package org.xenstorage.migrate.copy;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.types.Backend;

/**
 * One side of a copy: a temporary datapath on one VDI of the {@link StorageService} that serves it (this daemon's
 * mux, or another host's endpoint), remembering how far it got so that {@link #release} undoes exactly that.
 */
final class CopyDatapath {
    private static final Logger LOG = LoggerFactory.getLogger(CopyDatapath.class);

    private final StorageService storage;
    private final String dbg;
    private final String dp;
    private final String sr;
    private final String vdi;
    private final String vm;
    private boolean attachTried;
    private boolean attached;
    private boolean activated;

    CopyDatapath(StorageService storage, String dbg, String dp, String sr, String vdi, String vm) {
        this.storage = storage;
        this.dbg = dbg;
        this.dp = dp;
        this.sr = sr;
        this.vdi = vdi;
        this.vm = vm;
    }

    String dp() {
        return dp;
    }

    Backend attach(boolean rw) {
        attachTried = true;
        Backend b = storage.vdi().attach3(dbg, dp, sr, vdi, vm, rw);
        attached = true;
        return b;
    }

    void activate() {
        storage.vdi().activate3(dbg, dp, sr, vdi, vm);
        activated = true;
    }

    /**
     * Deactivate and detach; if either failed, or the attach itself failed (the mux keeps its dp
     * record then), {@code DP.destroy2} as the last resort. Not called twice on success because a
     * stateless SMAPIv3 bridge would pass a second detach to the datapath plugin.
     *
     * @return the first failure, or null
     */
    RuntimeException release() {
        RuntimeException first = null;
        if (activated) {
            first = step(first, () -> storage.vdi().deactivate(dbg, dp, sr, vdi, vm));
        }
        boolean clean = first == null;
        if (attached) {
            RuntimeException e = step(null, () -> storage.vdi().detach(dbg, dp, sr, vdi, vm));
            clean &= e == null;
            first = first == null ? e : first;
        }
        if (attachTried && (!attached || !clean)) {
            RuntimeException e = step(null, () -> storage.dp().destroy2(dbg, dp, sr, vdi, vm, false));
            if (e == null && first != null && attached) {
                LOG.info("datapath {} on {}/{} released by DP.destroy2 after: {}", dp, sr, vdi, first.getMessage());
                first = null; // the destroy did what deactivate/detach could not
            } else if (first == null && attached) {
                first = e;
            }
        }
        return first;
    }

    private RuntimeException step(RuntimeException prior, Runnable r) {
        try {
            r.run();
            return prior;
        } catch (RuntimeException e) {
            LOG.warn("copy clean-up: {} on {} {}/{} failed: {}", "datapath", dp, sr, vdi, e.getMessage());
            return prior == null ? e : prior;
        }
    }
}
