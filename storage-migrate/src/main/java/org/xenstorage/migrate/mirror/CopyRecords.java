package org.xenstorage.migrate.mirror;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.types.MirrorInfo;
import org.xenstorage.idl.types.MirrorState;
import org.xenstorage.statefile.AtomicFile;

/**
 * The table of copies in flight (upstream's {@code storage_mirrors_copy.json}), the only migration
 * state this daemon can have: it never sends or receives mirrors. Persisted with
 * {@link AtomicFile} when given a file, so a restart can {@link #reclaim} what a crash left attached.
 * Thread-safe.
 */
public final class CopyRecords {
    private static final Logger LOG = LoggerFactory.getLogger(CopyRecords.class);

    /** On-disk shape: {@code {"copies":[{...}, ...]}}. */
    public record Table(List<CopyRecord> copies) {
        public Table {
            copies = List.copyOf(copies);
        }
    }

    private final RecordFile<Table> file;
    private final Map<String, CopyRecord> byTask = new LinkedHashMap<>();
    private final List<CopyRecord> stale = new ArrayList<>();

    /** An in-memory table. */
    public static CopyRecords inMemory() {
        return new CopyRecords(Optional.empty());
    }

    /**
     * A persisted table. Records found in {@code file} are from a previous run: they are kept aside
     * for {@link #reclaim}. An unreadable file is logged and treated as empty.
     */
    public static CopyRecords persistedAt(Path file) {
        return new CopyRecords(Optional.of(file));
    }

    private CopyRecords(Optional<Path> file) {
        this.file = new RecordFile<>(file, Table.class, "copy state");
        this.file.previous().ifPresent(t -> stale.addAll(t.copies()));
    }

    /** Records a copy that is about to attach its datapaths. */
    public synchronized void add(CopyRecord r) {
        byTask.put(r.task(), r);
        save();
    }

    /** Forgets the copy run by {@code task}. */
    public synchronized void remove(String task) {
        if (byTask.remove(task) != null) {
            save();
        }
    }

    /**
     * Forgets the copy run by {@code task} as in flight but keeps it for the next start's {@link #reclaim}: what it
     * made could not all be torn down (another host that stopped answering).
     */
    public synchronized void keepForReclaim(String task) {
        CopyRecord r = byTask.remove(task);
        if (r != null) {
            stale.add(r);
            save();
        }
    }

    /** Copies in flight now. */
    public synchronized List<CopyRecord> active() {
        return List.copyOf(byTask.values());
    }

    /** Copies a previous run left behind (until {@link #reclaim} clears them). */
    public synchronized List<CopyRecord> stale() {
        return List.copyOf(stale);
    }

    /** {@code DATA.MIRROR.list}: every active copy, as a mirror record in state {@code Copying}. */
    public synchronized Map<String, MirrorInfo> mirrors() {
        Map<String, MirrorInfo> out = new LinkedHashMap<>();
        for (CopyRecord r : byTask.values()) {
            out.putIfAbsent(r.id(), info(r));
        }
        return out;
    }

    /** {@code DATA.MIRROR.stat}: the active copy with this id, if any. */
    public synchronized Optional<MirrorInfo> mirror(String id) {
        return byTask.values().stream().filter(r -> r.id().equals(id)).findFirst().map(CopyRecords::info);
    }

    private static MirrorInfo info(CopyRecord r) {
        return new MirrorInfo(r.sourceVdi(), r.copyVdi(), List.of(MirrorState.Copying), false);
    }

    /**
     * Upstream's {@code killall} for copies: for each record a previous run left, destroy both
     * datapaths (leaks allowed) and the half-written destination VDI, then forget it. Every step is
     * attempted; failures are logged.
     *
     * @return how many stale copies were reclaimed
     */
    public int reclaim(String dbg, StorageService storage) {
        return reclaim(dbg, storage, r -> storage);
    }

    /**
     * {@link #reclaim(String, StorageService)} for copies whose destination may be on another host: the source's
     * datapath is destroyed through {@code local}, the destination's datapath and VDI through
     * {@code destinationOf(record)} (this daemon's storage for a local copy, the remote endpoint for one to another
     * host; a failure to reach it is logged like any other step's).
     */
    public int reclaim(String dbg, StorageService local, Function<CopyRecord, StorageService> destinationOf) {
        List<CopyRecord> todo;
        synchronized (this) {
            todo = List.copyOf(stale);
        }
        for (CopyRecord r : todo) {
            LOG.info("reclaiming copy {} left by a previous run (task {})", r.id(), r.task());
            quietly(() -> local.dp().destroy2(dbg, r.leafDp(), r.sourceSr(), r.sourceVdi(), r.vm(), true));
            StorageService dest;
            try {
                dest = destinationOf.apply(r);
            } catch (RuntimeException e) {
                LOG.warn("copy {}: cannot reach its destination to reclaim it: {}", r.id(), e.getMessage());
                continue;
            }
            quietly(() -> dest.dp().destroy2(dbg, r.remoteDp(), r.destSr(), r.copyVdi(), r.vm(), true));
            quietly(() -> dest.vdi().destroy(dbg, r.destSr(), r.copyVdi()));
        }
        synchronized (this) {
            stale.removeAll(todo);
            save();
        }
        return todo.size();
    }

    private static void quietly(Runnable step) {
        try {
            step.run();
        } catch (RuntimeException e) {
            LOG.warn("clean-up step failed: {}", e.getMessage());
        }
    }

    private void save() {
        List<CopyRecord> all = new ArrayList<>(stale);
        all.addAll(byTask.values());
        file.save(new Table(all));
    }
}
