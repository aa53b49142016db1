package org.xenstorage.smapiv3.translation;

import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.idl.automaton.BadTransition;
import org.xenstorage.idl.automaton.NoOperation;
import org.xenstorage.idl.automaton.Op;
import org.xenstorage.idl.automaton.VdiAutomaton;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.DpState;
import org.xenstorage.smapiv3.state.HeldVolume;
import org.xenstorage.smapiv3.state.HolderTable;

/**
 * Per-volume datapath holders for SMAPIv3 SRs, with the SMAPIv1 wrapper's rules (the VDI automaton): the
 * datapath plugin makes one attachment of a volume, shared by every datapath that holds it, and is called only
 * when what all holders need changes. So a teardown from a datapath that holds nothing is a no-op, several
 * read-only attaches share one attachment, and the last holder to leave detaches it.
 *
 * <p>Order against a crash: an attach or activate is recorded before the plugin runs, a deactivate or detach
 * after it succeeded, so the record never says less than the plugin did. A holder repeating its own attach or
 * activate (a caller's retry, perhaps after a crash) runs the plugin again, as upstream always does; plugins
 * treat that as idempotent.
 */
final class DatapathHolding {
    private static final Logger LOG = LoggerFactory.getLogger(DatapathHolding.class);

    /** Runs one plugin step for the volume's attachment, made for {@code domain}. */
    interface PluginSteps {
        /** Datapath.attach; what it answered. */
        Backend attach(String domain);

        /** Datapath.activate or activate_readonly, as the caller's request says. */
        void activate(String domain);

        void deactivate(String domain);

        void detach(String domain);
    }

    private final HolderTable table;

    DatapathHolding(HolderTable table) {
        this.table = Objects.requireNonNull(table);
    }

    /**
     * Moves datapath {@code dp} of volume {@code (sr, vdi)} by {@code op}, running the plugin steps the
     * holders' superstate needs; returns the volume's record afterwards (for an attach, with its backend).
     * {@code domain} is the Datapath domain of this caller, used only when it makes the first attachment.
     */
    HeldVolume move(String dp, String sr, String vdi, String vm, String domain, Op op, PluginSteps plugin) {
        synchronized (table.lockOf(sr, vdi)) {
            HeldVolume old = table.get(sr, vdi, domain);
            DpState mine;
            try {
                mine = VdiAutomaton.plus(old.stateOf(dp), op);
            } catch (BadTransition e) {
                throw new StorageException(new StorageError.InternalError(e.getMessage()), e);
            }
            HeldVolume wanted = old.withDp(dp, vm, mine);
            DpState from = old.superstate();
            DpState to = wanted.superstate();
            List<Op> steps;
            try {
                steps = VdiAutomaton.ops(from, to);
            } catch (NoOperation e) {
                throw new StorageException(new StorageError.IllegalTransition(from, to));
            }
            LOG.debug("datapath {} on {}/{} ({}): {}; volume {} -> {}, plugin steps {}", dp, sr, vdi, domain, op.text(),
                    VdiAutomaton.text(from), VdiAutomaton.text(to), steps.stream().map(Op::text).toList());
            if (steps.stream().allMatch(s -> s instanceof Op.Nothing)) {
                return unchanged(dp, op, old, wanted, mine, plugin);
            }
            if (steps.stream().anyMatch(Op::bringsUp)) {
                table.put(wanted); // recorded first: a crash during the plugin call leaves it held, not leaked
                try {
                    HeldVolume done = run(steps, wanted, plugin);
                    table.put(done);
                    return done;
                } catch (RuntimeException e) {
                    table.put(old);
                    throw e;
                }
            }
            HeldVolume done = run(steps, wanted, plugin);
            table.put(done);
            return done;
        }
    }

    /**
     * No change to the plugin attachment: a holder repeating its own attach or activate runs the plugin again
     * (upstream always calls it; it may be a retry after a crash); a second holder joins without a plugin call,
     * and a stranger's teardown changes nothing.
     */
    private HeldVolume unchanged(String dp, Op op, HeldVolume old, HeldVolume wanted, DpState mine, PluginSteps plugin) {
        boolean repeat = op.bringsUp() && old.stateOf(dp).equals(mine);
        HeldVolume out = wanted;
        if (repeat || (op instanceof Op.Attach && wanted.backend().isEmpty())) {
            out = op instanceof Op.Attach ? wanted.withBackend(plugin.attach(wanted.domain())) : wanted;
            if (op instanceof Op.Activate) {
                plugin.activate(wanted.domain());
            }
        } else if (!op.bringsUp() && !(op instanceof Op.Nothing) && old.stateOf(dp) instanceof DpState.Detached) {
            LOG.info("{} {} of volume {} (SR {}): that datapath does not hold it; nothing to undo",
                    op.text(), dp, old.vdi(), old.sr());
        }
        table.put(out);
        return out;
    }

    /** The plugin steps in order, on the record being built (an attach stores its backend). */
    private static HeldVolume run(List<Op> steps, HeldVolume wanted, PluginSteps plugin) {
        HeldVolume h = wanted;
        for (Op s : steps) {
            if (s instanceof Op.Attach) {
                h = h.withBackend(plugin.attach(h.domain()));
            } else if (s instanceof Op.Activate) {
                plugin.activate(h.domain());
            } else if (s instanceof Op.Deactivate) {
                plugin.deactivate(h.domain());
            } else if (s instanceof Op.Detach) {
                plugin.detach(h.domain());
            }
        }
        return h;
    }

    /** Every datapath holding a volume of {@code sr}, with the volume and its vm. */
    List<Held> heldOn(String sr) {
        return table.ofSr(sr).stream().flatMap(h -> h.holders().entrySet().stream()
                .map(e -> new Held(e.getKey(), h.vdi(), e.getValue().vm(), e.getValue().state()))).toList();
    }

    /** Every datapath holding volume {@code (sr, vdi)}. */
    List<Held> heldOn(String sr, String vdi) {
        return heldOn(sr).stream().filter(h -> h.vdi().equals(vdi)).toList();
    }

    /** One holder of a volume. */
    record Held(String dp, String vdi, String vm, DpState state) {
    }

    Optional<HeldVolume> find(String sr, String vdi) {
        return table.find(sr, vdi);
    }
}
