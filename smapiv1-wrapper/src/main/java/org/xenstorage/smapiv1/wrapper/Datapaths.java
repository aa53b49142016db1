package org.xenstorage.smapiv1.wrapper;

import java.util.List;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.idl.api.VdiApi;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.DpState;
import org.xenstorage.idl.types.RoRw;
import org.xenstorage.idl.automaton.BadTransition;
import org.xenstorage.idl.automaton.NoOperation;
import org.xenstorage.idl.automaton.Op;
import org.xenstorage.idl.automaton.VdiAutomaton;
import org.xenstorage.smapiv1.datapath.DatapathTable;
import org.xenstorage.smapiv1.datapath.ErrorEntry;
import org.xenstorage.smapiv1.datapath.Holder;
import org.xenstorage.smapiv1.datapath.Intent;
import org.xenstorage.smapiv1.datapath.VdiRecord;

/**
 * The datapath engine: {@code perform} (spec 2.2), {@code destroy_datapath} and the leaked-datapath
 * retry (2.3), and the post-crash confirmation of an unconfirmed VDI. Every method here expects the
 * caller to hold the VDI lock (or the SR's master lock).
 *
 * <p>Write-ahead: before each SM call that changes what the backend holds, an {@link Intent} is made
 * durable; the call's outcome and the intent's removal are then written together in one atomic write.
 */
final class Datapaths {
    private static final Logger LOG = LoggerFactory.getLogger(Datapaths.class);

    private final Supplier<VdiApi> smVdi;
    private final DatapathTable table;

    /** @param smVdi the VDI module of the layer below (a supplier: it fails Unimplemented when absent) */
    Datapaths(Supplier<VdiApi> smVdi, DatapathTable table) {
        this.smVdi = smVdi;
        this.table = table;
    }

    /**
     * Moves one datapath by {@code op}, running the SM calls needed to move the VDI's superstate.
     * Returns the VDI's new record (for an attach its attach_info, possibly from an earlier attach).
     */
    VdiRecord perform(String dbg, String dp, String sr, String vdi, String vm, Op op) {
        VdiRecord old = table.vdi(sr, vdi); // Sr_not_attached is not an Errors entry
        try {
            DpState from = old.superstate();
            VdiRecord wanted = old.withDp(dp, vm, VdiAutomaton.plus(old.stateOf(dp), op));
            DpState to = wanted.superstate();
            List<Op> ops;
            try {
                ops = VdiAutomaton.ops(from, to);
            } catch (NoOperation e) {
                throw new StorageException(new StorageError.IllegalTransition(from, to));
            }
            LOG.debug("datapath {} on {}/{}: {}; VDI {} -> {}, SM steps {}", dp, sr, vdi, op.text(),
                    VdiAutomaton.text(from), VdiAutomaton.text(to), ops.stream().map(Op::text).toList());
            VdiRecord current = old;
            for (Op step : ops) {
                if (!(step instanceof Op.Nothing)) {
                    current = sideEffect(dbg, dp, sr, vdi, vm, step, current);
                }
            }
            VdiRecord done = current.withDp(dp, vm, VdiAutomaton.plus(current.stateOf(dp), op));
            if (!done.equals(current)) { // nothing changed (e.g. detach by a stranger): no write
                table.put(sr, vdi, done);
                table.persist();
            }
            return done;
        } catch (RuntimeException e) {
            StorageException se = asStorage(e);
            table.addError(new ErrorEntry(dp, System.currentTimeMillis() / 1000.0, sr, vdi, describe(se)));
            throw se;
        }
    }

    /** One SM call with its write-ahead intent; returns the record after it, already persisted. */
    private VdiRecord sideEffect(String dbg, String dp, String sr, String vdi, String vm, Op step, VdiRecord current) {
        Intent intent = table.addIntent(sr, vdi, dp, vm, step);
        try {
            table.persist();
        } catch (RuntimeException e) {
            table.removeIntent(intent);
            throw e;
        }
        Backend backend = null;
        try {
            backend = call(dbg, dp, sr, vdi, vm, step);
        } catch (RuntimeException e) {
            // outcome known (failed): drop the intent; the backend is as before, as upstream assumes
            table.removeIntent(intent);
            persistQuietly();
            throw e;
        }
        VdiRecord next = current.withDp(dp, vm, VdiAutomaton.plus(current.stateOf(dp), step));
        if (backend != null) {
            next = next.withAttachInfo(backend);
        }
        VdiRecord stored = next;
        table.update(sr, vdi, r -> stored, intent);
        table.persist();
        return next;
    }

    private Backend call(String dbg, String dp, String sr, String vdi, String vm, Op step) {
        if (step instanceof Op.Attach a) {
            return smVdi.get().attach3(dbg, dp, sr, vdi, vm, a.mode() == RoRw.RW);
        } else if (step instanceof Op.Activate) {
            smVdi.get().activate3(dbg, dp, sr, vdi, vm);
        } else if (step instanceof Op.Deactivate) {
            // no SXM in this daemon: upstream's storage-migrate pre/post hooks have nothing to do
            optimistic(() -> smVdi.get().deactivate(dbg, dp, sr, vdi, vm), "deactivate", sr, vdi);
        } else if (step instanceof Op.Detach) {
            optimistic(() -> smVdi.get().detach(dbg, dp, sr, vdi, vm), "detach", sr, vdi);
        }
        return null;
    }

    /**
     * Teardown of a VDI that no longer exists is a success ("being optimistic"). QUIRK fix: upstream
     * matches an exception name its SMAPIv1 layer no longer raises; we match the error itself.
     */
    private static void optimistic(Runnable teardown, String what, String sr, String vdi) {
        try {
            teardown.run();
        } catch (StorageException e) {
            if (isNoVdi(e.error())) {
                LOG.warn("{} of {}/{}: the VDI no longer exists; treating as success", what, sr, vdi);
                return;
            }
            throw e;
        }
    }

    /** A refusal by the automaton rather than a failed SM call. */
    static boolean isRefusal(RuntimeException e) {
        return e instanceof StorageException se && (se.error() instanceof StorageError.IllegalTransition
                || (se.error() instanceof StorageError.InternalError ie && ie.message().contains("Bad_transition")));
    }

    static boolean isNoVdi(StorageError e) {
        return e instanceof StorageError.VdiDoesNotExist
                || (e instanceof StorageError.InternalError ie && ie.message().contains("No_VDI"));
    }

    /**
     * Upstream's {@code destroy_datapath}: deactivate/detach {@code dp} from {@code vdi}. On failure with
     * {@code allowLeak} false the dp is marked leaked (partial progress is kept, a permitted QUIRK fix) and
     * the error raised; with {@code allowLeak} true the dp is forgotten and the call succeeds.
     */
    void destroyDatapath(String dbg, String dp, String sr, String vdi, String vm, boolean allowLeak) {
        if (table.find(sr, vdi).isEmpty()) {
            return;
        }
        DpState state = table.vdi(sr, vdi).stateOf(dp);
        try {
            for (Op step : VdiAutomaton.ops(state, DpState.DETACHED)) {
                perform(dbg, dp, sr, vdi, vm, step);
            }
            // QUIRK fix: a dp whose teardown finally succeeded is no longer leaked
            table.find(sr, vdi).filter(r -> r.leaked().contains(dp)).ifPresent(r -> {
                table.put(sr, vdi, r.withoutLeaked(dp));
                table.persist();
            });
        } catch (RuntimeException e) {
            if (!allowLeak && isRefusal(e)) {
                // the automaton refused (e.g. the last RW holder leaving an RO one): the backend was not
                // touched, so nothing leaked. Upstream marks it leaked anyway, which then makes every later
                // op on the VDI, the RO holder's own detach included, fail on the retry.
                throw e;
            }
            if (!allowLeak) {
                table.update(sr, vdi, r -> r.withLeaked(dp), null);
                persistQuietly();
                LOG.warn("datapath {} on {}/{} leaked: {}", dp, sr, vdi, e.getMessage());
                throw e;
            }
            LOG.warn("setting dp {} on {}/{} to detached even though the operation failed: {}", dp, sr, vdi,
                    e.getMessage());
            table.update(sr, vdi, r -> r.withoutDp(dp).withoutLeaked(dp), null);
            table.persist();
        }
    }

    /**
     * Upstream's {@code remove_datapaths_andthen}: tear down the VDI's datapaths that pass {@code filter}
     * (with the caller's vm when given, else each dp's own), raising the most recent failure.
     */
    void removeDatapaths(String dbg, String sr, String vdi, String vm, Predicate<Holder> filter) {
        VdiRecord rec = table.find(sr, vdi).orElse(null);
        if (rec == null) {
            return;
        }
        List<Holder> pending = rec.holders().stream().filter(filter).toList();
        RuntimeException last = null;
        // Another pass while the previous one made progress: the last RW holder is refused while an RO
        // holder remains (no downgrade), and succeeds once that holder is gone.
        while (!pending.isEmpty()) {
            List<Holder> failed = new java.util.ArrayList<>();
            last = null;
            for (Holder h : pending) {
                try {
                    destroyDatapath(dbg, h.dp(), sr, vdi, vm != null ? vm : h.vm(), false);
                } catch (RuntimeException e) {
                    last = e;
                    failed.add(h);
                }
            }
            if (failed.size() == pending.size()) {
                break;
            }
            pending = failed;
        }
        if (last != null) {
            throw last;
        }
    }

    /** The leaked-retry before a VDI operation. */
    void retryLeaked(String dbg, String sr, String vdi, String vm) {
        VdiRecord rec = table.find(sr, vdi).orElse(null);
        if (rec != null && !rec.leaked().isEmpty()) {
            removeDatapaths(dbg, sr, vdi, vm, h -> rec.leaked().contains(h.dp()));
        }
    }

    /**
     * Before a bring-up op on a VDI a crash left unconfirmed: re-run, idempotently, the SM ops from
     * Detached to the recorded superstate on behalf of the most recent holder, then clear the mark.
     */
    void confirm(String dbg, String sr, String vdi) {
        VdiRecord rec = table.find(sr, vdi).orElse(null);
        if (rec == null || !rec.unconfirmed()) {
            return;
        }
        Holder h = rec.holders().get(0);
        try {
            for (Op step : VdiAutomaton.ops(DpState.DETACHED, rec.superstate())) {
                if (step instanceof Op.Attach a) {
                    rec = rec.withAttachInfo(smVdi.get().attach3(dbg, h.dp(), sr, vdi, h.vm(), a.mode() == RoRw.RW));
                } else if (step instanceof Op.Activate) {
                    smVdi.get().activate3(dbg, h.dp(), sr, vdi, h.vm());
                }
            }
        } catch (RuntimeException e) {
            StorageException se = asStorage(e);
            table.addError(new ErrorEntry(h.dp(), System.currentTimeMillis() / 1000.0, sr, vdi, describe(se)));
            throw se;
        }
        LOG.info("{}/{} confirmed after recovery as {}", sr, vdi, VdiAutomaton.text(rec.superstate()));
        table.put(sr, vdi, rec.withUnconfirmed(false));
        table.persist();
    }

    private void persistQuietly() {
        try {
            table.persist();
        } catch (RuntimeException e) {
            LOG.error("state write failed on an error path: {}", e.getMessage());
        }
    }

    /** Automaton exceptions become the wire errors upstream sends (spec 2.7). */
    static StorageException asStorage(RuntimeException e) {
        if (e instanceof StorageException se) {
            return se;
        }
        if (e instanceof BadTransition) {
            return new StorageException(new StorageError.InternalError(e.getMessage()), e);
        }
        return new StorageException(new StorageError.InternalError(String.valueOf(e)), e);
    }

    /** The text of an Errors entry. */
    static String describe(StorageException e) {
        return e.getMessage();
    }
}
