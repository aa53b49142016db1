package org.xenstorage.messageswitch.broker;

import java.util.HashMap;
import java.util.Map;

/**
 * Which connections belong to which session (login token). A session ends when its last
 * connection closes; its transient queues go with it.
 */
final class Sessions {
    private final QueueTable table;
    private final Map<String, Integer> connections = new HashMap<>();

    Sessions(QueueTable table) {
        this.table = table;
    }

    /** {@code conn} (previously in {@code old}, or null) now belongs to {@code session}. */
    void login(Object conn, String old, String session) {
        synchronized (this) {
            connections.merge(session, 1, Integer::sum);
        }
        if (old != null) {
            disconnect(conn, old);
        }
    }

    void disconnect(Object conn, String session) {
        if (session == null) {
            return;
        }
        synchronized (this) {
            Integer n = connections.get(session);
            if (n == null || n <= 1) {
                connections.remove(session);
                // under our lock, so a new login of the same session cannot slip in between
                table.sessionGone(session);
            } else {
                connections.put(session, n - 1);
            }
        }
    }

    synchronized boolean active(String session) {
        return connections.containsKey(session);
    }
}
