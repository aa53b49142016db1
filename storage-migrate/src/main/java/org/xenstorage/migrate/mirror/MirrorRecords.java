package org.xenstorage.migrate.mirror;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.idl.types.MirrorInfo;
import org.xenstorage.idl.types.MirrorState;
import org.xenstorage.statefile.AtomicFile;

/**
 * The live mirrors this host sends and receives (upstream's {@code storage_mirrors_send.json} and
 * {@code storage_mirrors_recv.json}, one file here), keyed by {@link MirrorId}. Persisted with {@link AtomicFile}
 * (0600: a send record holds the remote's token) when given a file, before the call that made the mirror
 * answers; the records a previous run left are kept aside as {@link #staleSends()}/{@link #staleReceives()} until
 * reclaimed. Thread-safe.
 */
public final class MirrorRecords {
    private static final Logger LOG = LoggerFactory.getLogger(MirrorRecords.class);

    /** On-disk shape: {@code {"sends":[...],"receives":[...]}}. */
    public record Table(List<SendRecord> sends, List<ReceiveRecord> receives) {
        public Table {
            sends = List.copyOf(sends);
            receives = List.copyOf(receives);
        }
    }

    private final RecordFile<Table> file;
    private final Map<String, SendRecord> sends = new LinkedHashMap<>();
    private final Map<String, ReceiveRecord> receives = new LinkedHashMap<>();
    private final List<SendRecord> staleSends = new ArrayList<>();
    private final List<ReceiveRecord> staleReceives = new ArrayList<>();

    /** An in-memory table. */
    public static MirrorRecords inMemory() {
        return new MirrorRecords(Optional.empty());
    }

    /** A persisted table; what {@code file} holds is a previous run's (an unreadable file is logged, treated as empty). */
    public static MirrorRecords persistedAt(Path file) {
        return new MirrorRecords(Optional.of(file));
    }

    private MirrorRecords(Optional<Path> file) {
        this.file = new RecordFile<>(file, Table.class, "mirror state");
        this.file.previous().ifPresent(t -> {
            staleSends.addAll(t.sends());
            staleReceives.addAll(t.receives());
        });
    }

    /** Records (or updates) a send, persisted before this returns. */
    public synchronized void putSend(SendRecord r) {
        sends.put(r.id(), r);
        save();
    }

    /** Forgets a send; true if there was one. */
    public synchronized boolean removeSend(String id) {
        boolean had = sends.remove(id) != null;
        if (had) {
            save();
        }
        return had;
    }

    /** The send with this id, if this run has one. */
    public synchronized Optional<SendRecord> send(String id) {
        return Optional.ofNullable(sends.get(id));
    }

    /** Every send of this run. */
    public synchronized List<SendRecord> sends() {
        return List.copyOf(sends.values());
    }

    /** Records (or updates) a receive, persisted before this returns. */
    public synchronized void putReceive(ReceiveRecord r) {
        receives.put(r.id(), r);
        save();
    }

    /** Forgets a receive; true if there was one. */
    public synchronized boolean removeReceive(String id) {
        boolean had = receives.remove(id) != null;
        if (had) {
            save();
        }
        return had;
    }

    /** The receive with this id, if this run has one. */
    public synchronized Optional<ReceiveRecord> receive(String id) {
        return Optional.ofNullable(receives.get(id));
    }

    /** Every receive of this run. */
    public synchronized List<ReceiveRecord> receives() {
        return List.copyOf(receives.values());
    }

    /** Sends a previous run left (until {@link #forgetStale}). */
    public synchronized List<SendRecord> staleSends() {
        return List.copyOf(staleSends);
    }

    /** Receives a previous run left (until {@link #forgetStale}). */
    public synchronized List<ReceiveRecord> staleReceives() {
        return List.copyOf(staleReceives);
    }

    /** Drops these stale records (they were reclaimed). */
    public synchronized void forgetStale(List<SendRecord> s, List<ReceiveRecord> r) {
        staleSends.removeAll(s);
        staleReceives.removeAll(r);
        save();
    }

    /** The ids of every send and receive of this run, each once, sends first. */
    public synchronized List<String> ids() {
        List<String> out = new ArrayList<>(sends.keySet());
        for (String id : receives.keySet()) {
            if (!out.contains(id)) {
                out.add(id);
            }
        }
        return out;
    }

    /**
     * {@code DATA.MIRROR.stat}'s record, upstream's rules: states {@code Receiving} then {@code Sending} for what
     * exists; source and destination VDI from the receive if there is one (its source VDI, its leaf), else from
     * the send (the id's VDI, the remote VDI); {@code failed} when the send failed (the plugin's job) or the receive
     * lost its sender (its NBD connection ended without {@code receive_finalize3} or {@code receive_cancel2}).
     *
     * @return empty when neither exists
     */
    public static Optional<MirrorInfo> info(String id, Optional<SendRecord> send, Optional<ReceiveRecord> receive,
                                            boolean sendFailed, boolean receiveFailed) {
        List<MirrorState> states = new ArrayList<>();
        receive.ifPresent(r -> states.add(MirrorState.Receiving));
        send.ifPresent(s -> states.add(MirrorState.Sending));
        if (states.isEmpty()) {
            return Optional.empty();
        }
        if (receive.isPresent()) {
            return Optional.of(new MirrorInfo(receive.get().sourceVdi(), receive.get().leafVdi(), states,
                    receiveFailed || (send.isPresent() && sendFailed)));
        }
        return Optional.of(new MirrorInfo(send.get().vdi(), send.get().remoteVdi(), states, sendFailed));
    }

    private void save() {
        List<SendRecord> s = new ArrayList<>(staleSends);
        s.addAll(sends.values());
        List<ReceiveRecord> r = new ArrayList<>(staleReceives);
        r.addAll(receives.values());
        file.save(new Table(s, r));
    }
}
