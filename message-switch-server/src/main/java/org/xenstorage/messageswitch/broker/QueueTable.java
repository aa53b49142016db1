package org.xenstorage.messageswitch.broker;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.TreeMap;
import org.xenstorage.messageswitch.protocol.Diagnostics;
import org.xenstorage.messageswitch.protocol.Entry;
import org.xenstorage.messageswitch.protocol.Message;
import org.xenstorage.messageswitch.protocol.MessageId;
import org.xenstorage.messageswitch.protocol.Origin;
import org.xenstorage.messageswitch.protocol.SwitchResponse;

/**
 * The broker's queues: names, owners (transient queues belong to a session), unacked messages
 * and who is polling. One lock guards everything; every operation is short and never blocks.
 * Message ids come from one counter for the whole switch, so a transfer over several queues
 * can use a single {@code from}.
 */
final class QueueTable {

    /** A long-poll waiting for messages on some queues; woken (once) by a send to any of them. */
    interface Waiter {
        void wake();
    }

    private static final class Queue {
        final String name;
        final String owner; // session name, or null for a persistent queue
        final TreeMap<Long, Entry> messages = new TreeMap<>();
        final Set<Object> pollers = new HashSet<>();
        long nextTransferExpected = -1;

        Queue(String name, String owner) {
            this.name = name;
            this.owner = owner;
        }
    }

    private final Map<String, Queue> queues = new TreeMap<>();
    private final Map<String, Set<String>> byOwner = new HashMap<>();
    private final Map<String, List<Waiter>> waiters = new HashMap<>();
    private final Runnable persistentChanged;
    private long nextId;

    QueueTable(long firstId, Runnable persistentChanged) {
        this.nextId = firstId;
        this.persistentChanged = persistentChanged;
    }

    /** Restores a persistent queue (at start-up). */
    synchronized void restore(String name, Map<Long, Entry> messages) {
        Queue q = new Queue(name, null);
        q.messages.putAll(messages);
        queues.put(name, q);
        if (!messages.isEmpty()) {
            nextId = Math.max(nextId, q.messages.lastKey() + 1);
        }
    }

    /** Creates the queue unless it exists (then it keeps its owner and messages, as upstream). */
    void create(String name, String owner) {
        boolean persistentAdded = false;
        synchronized (this) {
            if (!queues.containsKey(name)) {
                queues.put(name, new Queue(name, owner));
                if (owner != null) {
                    byOwner.computeIfAbsent(owner, k -> new HashSet<>()).add(name);
                } else {
                    persistentAdded = true;
                }
            }
        }
        if (persistentAdded) {
            persistentChanged.run();
        }
    }

    void destroy(String name) {
        boolean persistent;
        synchronized (this) {
            persistent = removeLocked(name);
        }
        if (persistent) {
            persistentChanged.run();
        }
    }

    /** Removes the queue; true when it was persistent. */
    private boolean removeLocked(String name) {
        Queue q = queues.remove(name);
        if (q == null) {
            return false;
        }
        if (q.owner != null) {
            Set<String> owned = byOwner.get(q.owner);
            if (owned != null) {
                owned.remove(name);
                if (owned.isEmpty()) {
                    byOwner.remove(q.owner);
                }
            }
            return false;
        }
        return true;
    }

    /** The session has no connection left: its transient queues go. */
    void sessionGone(String session) {
        synchronized (this) {
            Set<String> owned = byOwner.remove(session);
            if (owned != null) {
                for (String name : owned) {
                    queues.remove(name);
                }
            }
        }
    }

    /** The polling connection went away: its queues are no longer "alive" through it. */
    synchronized void pollerGone(Object poller, List<String> polled) {
        for (String name : polled) {
            Queue q = queues.get(name);
            if (q != null) {
                q.pollers.remove(poller);
            }
        }
    }

    /** The result of a send: the id (empty when the queue does not exist) and the long-polls to wake. */
    record Sent(Optional<MessageId> id, List<Waiter> woken) {
    }

    Sent send(String name, Origin origin, Message message, long nowNanos) {
        boolean persistent;
        List<Waiter> woken;
        MessageId id;
        synchronized (this) {
            Queue q = queues.get(name);
            if (q == null) {
                return new Sent(Optional.empty(), List.of());
            }
            id = new MessageId(name, nextId++);
            q.messages.put(id.id(), new Entry(origin, nowNanos, message));
            persistent = q.owner == null;
            List<Waiter> w = waiters.remove(name);
            woken = w == null ? List.of() : w;
        }
        if (persistent) {
            persistentChanged.run();
        }
        return new Sent(Optional.of(id), woken);
    }

    /** Unacked messages with id above {@code from} on {@code names}, ascending; marks the queues as polled. */
    synchronized List<SwitchResponse.Delivery> transfer(long from, List<String> names, long expectNanos, Object poller) {
        List<SwitchResponse.Delivery> out = new ArrayList<>();
        for (String name : names) {
            Queue q = queues.get(name);
            if (q == null) {
                continue;
            }
            q.nextTransferExpected = expectNanos;
            q.pollers.add(poller);
            for (Map.Entry<Long, Entry> e : q.messages.tailMap(from, false).entrySet()) {
                out.add(new SwitchResponse.Delivery(new MessageId(name, e.getKey()), e.getValue().message()));
            }
        }
        if (names.size() > 1) {
            out.sort((a, b) -> Long.compare(a.id().id(), b.id().id()));
        }
        return out;
    }

    /** Registers a long-poll unless a message already arrived; false means "transfer again now". */
    synchronized boolean await(long from, List<String> names, Waiter w) {
        for (String name : names) {
            Queue q = queues.get(name);
            if (q != null && !q.messages.tailMap(from, false).isEmpty()) {
                return false;
            }
        }
        for (String name : names) {
            waiters.computeIfAbsent(name, k -> new ArrayList<>(2)).add(w);
        }
        return true;
    }

    synchronized void cancel(List<String> names, Waiter w) {
        for (String name : names) {
            List<Waiter> l = waiters.get(name);
            if (l != null) {
                l.remove(w);
                if (l.isEmpty()) {
                    waiters.remove(name);
                }
            }
        }
    }

    /** Removes an acked message; returns the entry that was removed, if any. */
    Optional<Entry> ack(MessageId id) {
        Entry removed;
        boolean persistent;
        synchronized (this) {
            Queue q = queues.get(id.queue());
            if (q == null) {
                return Optional.empty();
            }
            removed = q.messages.remove(id.id());
            persistent = q.owner == null;
        }
        if (removed != null && persistent) {
            persistentChanged.run();
        }
        return Optional.ofNullable(removed);
    }

    /** The entry of a queued message, if still there. */
    synchronized Optional<Entry> entry(MessageId id) {
        Queue q = queues.get(id.queue());
        return q == null ? Optional.empty() : Optional.ofNullable(q.messages.get(id.id()));
    }

    synchronized List<String> list(String prefix, boolean aliveOnly) {
        List<String> out = new ArrayList<>();
        for (Queue q : queues.values()) {
            if (q.name.startsWith(prefix) && (!aliveOnly || !q.pollers.isEmpty())) {
                out.add(q.name);
            }
        }
        return out;
    }

    synchronized Diagnostics snapshot(long startNanos, long nowNanos) {
        Map<String, Diagnostics.QueueState> permanent = new LinkedHashMap<>();
        Map<String, Diagnostics.QueueState> transients = new LinkedHashMap<>();
        for (Queue q : queues.values()) {
            List<Diagnostics.Queued> contents = new ArrayList<>();
            q.messages.forEach((id, e) -> contents.add(new Diagnostics.Queued(new MessageId(q.name, id), e)));
            Diagnostics.QueueState s = new Diagnostics.QueueState(
                    q.nextTransferExpected < 0 ? OptionalLong.empty() : OptionalLong.of(q.nextTransferExpected), contents);
            (q.owner == null ? permanent : transients).put(q.name, s);
        }
        return new Diagnostics(startNanos, nowNanos, permanent, transients);
    }

    /** What must survive a restart: the persistent queues with their messages, and the id counter. */
    record Persistent(long nextId, Map<String, Map<Long, Entry>> queues) {
    }

    synchronized Persistent persistentState() {
        Map<String, Map<Long, Entry>> out = new LinkedHashMap<>();
        for (Queue q : queues.values()) {
            if (q.owner == null) {
                out.put(q.name, new TreeMap<>(q.messages));
            }
        }
        return new Persistent(nextId, out);
    }

    synchronized boolean exists(String name) {
        return queues.containsKey(name);
    }
}
