package org.xenstorage.smapiv1.datapath;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.DpState;
import org.xenstorage.idl.automaton.BadTransition;
import org.xenstorage.idl.automaton.Op;
import org.xenstorage.idl.automaton.VdiAutomaton;

/**
 * The wrapper's datapath table (spec 2.1): attached SRs, the VDIs somebody holds, the Errors list and
 * the outstanding write-ahead intents, persisted to one state file after every change.
 *
 * <p>Thread safety: a small monitor ({@code this}) guards the maps; {@link #persist} takes the writer
 * lock, then snapshots and writes under it, so snapshots reach the disk in the order they were taken
 * (upstream QUIRK 2.5: two writers could land an older snapshot last). Each change bumps a version;
 * a caller whose change was already captured by a later snapshot skips its own write (group commit),
 * which keeps 64 parallel attaches from queueing 64 fsyncs. Callers serialise changes to
 * one VDI with the VDI lock; this class only keeps each single update atomic.
 */
public final class DatapathTable {
    /** Upstream keeps the 100 newest errors. */
    public static final int MAX_ERRORS = 100;
    private static final Logger LOG = LoggerFactory.getLogger(DatapathTable.class);

    private final Path file;
    private final Object writer = new Object();
    private final Map<String, Map<String, VdiRecord>> srs = new LinkedHashMap<>();
    private final Deque<ErrorEntry> errors = new ArrayDeque<>();
    private final Map<Long, Intent> intents = new LinkedHashMap<>();
    private final AtomicLong nextIntent = new AtomicLong(1);
    private long writes;
    /** Bumped by every change; {@link #persist} skips a write when a later one already covered it. */
    private long version;
    private long writtenVersion;

    private DatapathTable(Path file) {
        this.file = file;
    }

    /**
     * Loads the state file (an unreadable one is logged and replaced by an empty state, as upstream)
     * and reconciles any write-ahead intent left by a crash (see {@link #reconcile}). No SM call is made.
     */
    public static DatapathTable open(Path file) {
        DatapathTable t = new DatapathTable(file);
        HostSnapshot loaded;
        try {
            loaded = StateFile.read(file).orElse(null);
            if (loaded == null) {
                LOG.info("no datapath state at {}: starting empty", file);
                loaded = HostSnapshot.EMPTY;
            }
        } catch (IOException e) {
            LOG.error("datapath state at {} cannot be loaded, starting empty: {}", file, e.getMessage());
            loaded = HostSnapshot.EMPTY;
        }
        loaded.srs().forEach((sr, vdis) -> t.srs.put(sr, new LinkedHashMap<>(vdis)));
        loaded.errors().forEach(t.errors::addLast);
        if (!loaded.intents().isEmpty()) {
            synchronized (t) {
                for (Intent i : loaded.intents()) {
                    t.reconcile(i);
                }
                t.version++; // the loaded intents are gone from memory: the file must say so too
            }
            t.persist();
        }
        return t;
    }

    /**
     * Start-up handling of an intent whose SM call may or may not have happened. Its presence means the
     * state on disk is the state before the call (the outcome and the intent's removal are one write).
     * We record the upper bound of what the backend may hold, so nothing can leak: for attach/activate
     * the datapath is recorded in the state after the op; for deactivate/detach the state stays as it
     * was. Either way the VDI is marked {@code unconfirmed}: teardowns drive it down with idempotent SM
     * calls as usual, and the next bring-up op first re-runs attach (and activate) idempotently, which
     * also recovers an attach_info the crash lost. No SM call is made here (the driver may not be
     * reachable yet, and a restarted daemon must not touch the backend on its own).
     */
    private void reconcile(Intent i) {
        Map<String, VdiRecord> vdis = srs.get(i.sr());
        if (vdis == null) {
            LOG.warn("dropping intent {} on SR {} which is no longer attached", i.op().text(), i.sr());
            return;
        }
        VdiRecord rec = vdis.getOrDefault(i.vdi(), VdiRecord.EMPTY);
        if (i.op().bringsUp()) {
            DpState state;
            try {
                state = VdiAutomaton.plus(rec.stateOf(i.dp()), i.op());
            } catch (BadTransition e) {
                LOG.warn("intent {} for dp {} does not apply to its state: {}", i.op().text(), i.dp(), e.getMessage());
                state = rec.stateOf(i.dp());
            }
            rec = rec.withDp(i.dp(), i.vm(), state);
        }
        if (rec.isDetached()) {
            vdis.remove(i.vdi());
            return;
        }
        LOG.warn("recovered intent: {} of {}/{} for dp {} may or may not have happened; VDI marked unconfirmed",
                i.op().text(), i.sr(), i.vdi(), i.dp());
        vdis.put(i.vdi(), rec.withUnconfirmed(true));
    }

    // ---- SRs ---------------------------------------------------------------------------------

    public synchronized boolean isAttached(String sr) {
        return srs.containsKey(sr);
    }

    public synchronized List<String> srList() {
        return List.copyOf(srs.keySet());
    }

    /** Records a newly attached SR; false when it already was. */
    public synchronized boolean addSr(String sr) {
        version++;
        return srs.putIfAbsent(sr, new LinkedHashMap<>()) == null;
    }

    /** Forgets an SR and all its VDIs; false when it was not known. */
    public synchronized boolean removeSr(String sr) {
        version++;
        return srs.remove(sr) != null;
    }

    // ---- VDIs --------------------------------------------------------------------------------

    /** The VDI's record; {@link VdiRecord#EMPTY} when nobody holds it. Fails {@code Sr_not_attached}. */
    public synchronized VdiRecord vdi(String sr, String vdi) {
        Map<String, VdiRecord> vdis = srs.get(sr);
        if (vdis == null) {
            throw new StorageException(new StorageError.SrNotAttached(sr));
        }
        return vdis.getOrDefault(vdi, VdiRecord.EMPTY);
    }

    /** The record if the SR is attached and somebody holds the VDI. */
    public synchronized Optional<VdiRecord> find(String sr, String vdi) {
        Map<String, VdiRecord> vdis = srs.get(sr);
        return vdis == null ? Optional.empty() : Optional.ofNullable(vdis.get(vdi));
    }

    /** The VDIs of an SR somebody holds (empty when the SR is not attached). */
    public synchronized Map<String, VdiRecord> vdis(String sr) {
        Map<String, VdiRecord> vdis = srs.get(sr);
        return vdis == null ? Map.of() : Map.copyOf(vdis);
    }

    /**
     * Stores a record (deleting it when nobody holds the VDI any more). Returns false, changing nothing,
     * when the SR is no longer attached.
     */
    public synchronized boolean put(String sr, String vdi, VdiRecord rec) {
        Map<String, VdiRecord> vdis = srs.get(sr);
        if (vdis == null) {
            return false;
        }
        version++;
        if (rec.isDetached()) {
            vdis.remove(vdi);
        } else {
            vdis.put(vdi, rec);
        }
        return true;
    }

    // ---- errors and intents ------------------------------------------------------------------

    public synchronized void addError(ErrorEntry e) {
        version++;
        errors.addFirst(e);
        while (errors.size() > MAX_ERRORS) {
            errors.removeLast();
        }
    }

    public synchronized List<ErrorEntry> errors() {
        return List.copyOf(errors);
    }

    /** Records an intent in memory; the caller persists before making the SM call. */
    public synchronized Intent addIntent(String sr, String vdi, String dp, String vm, Op op) {
        Intent i = new Intent(nextIntent.getAndIncrement(), sr, vdi, dp, vm, op);
        version++;
        intents.put(i.id(), i);
        return i;
    }

    public synchronized void removeIntent(Intent i) {
        version++;
        intents.remove(i.id());
    }

    /** Applies {@code change} to the record and removes {@code intent} in one step (one later write). */
    public synchronized boolean update(String sr, String vdi, UnaryOperator<VdiRecord> change, Intent intent) {
        version++;
        if (intent != null) {
            intents.remove(intent.id());
        }
        Map<String, VdiRecord> vdis = srs.get(sr);
        if (vdis == null) {
            return false;
        }
        return put(sr, vdi, change.apply(vdis.getOrDefault(vdi, VdiRecord.EMPTY)));
    }

    public synchronized HostSnapshot snapshot() {
        return new HostSnapshot(srs, new ArrayList<>(errors), new ArrayList<>(intents.values()));
    }

    /** How many times the state file was written (for tests and diagnostics). */
    public long writes() {
        synchronized (writer) {
            return writes;
        }
    }

    public Path file() {
        return file;
    }

    /**
     * Writes the whole state. The snapshot is taken under the writer lock so the newest snapshot is always
     * the last written. A failure to write is reported as an {@code Internal_error}: the caller's state
     * change happened in memory but could not be made durable, so the caller must not claim success.
     */
    public void persist() {
        long wanted;
        synchronized (this) {
            wanted = version;
        }
        synchronized (writer) {
            if (writtenVersion >= wanted) {
                return; // group commit: a write that started after our change already holds it
            }
            HostSnapshot s;
            long v;
            synchronized (this) {
                s = snapshot();
                v = version;
            }
            try {
                StateFile.write(file, s);
                writes++;
                writtenVersion = v;
            } catch (IOException e) {
                LOG.error("cannot write datapath state {}: {}", file, e.toString());
                throw new StorageException(new StorageError.InternalError("cannot persist datapath state: " + e),
                        new UncheckedIOException(e));
            }
        }
    }
}
