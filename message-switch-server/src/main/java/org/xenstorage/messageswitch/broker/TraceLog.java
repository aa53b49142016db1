package org.xenstorage.messageswitch.broker;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import org.xenstorage.messageswitch.protocol.SwitchResponse;
import org.xenstorage.messageswitch.protocol.TraceEvent;

/**
 * The last {@link #CAPACITY} switch events, numbered from 0, for {@code /trace} (message-cli's
 * {@code tail}); a trace request waits for events above the number it has seen.
 */
final class TraceLog {
    static final int CAPACITY = 1024;

    /** A trace long-poll woken by the next event. */
    interface Waiter {
        void wake();
    }

    private final ArrayDeque<SwitchResponse.NumberedEvent> events = new ArrayDeque<>();
    private final List<Waiter> waiters = new ArrayList<>();
    private long next;

    void add(TraceEvent e) {
        List<Waiter> woken;
        synchronized (this) {
            events.addLast(new SwitchResponse.NumberedEvent(next++, e));
            if (events.size() > CAPACITY) {
                events.removeFirst();
            }
            if (waiters.isEmpty()) {
                return;
            }
            woken = new ArrayList<>(waiters);
            waiters.clear();
        }
        woken.forEach(Waiter::wake);
    }

    synchronized List<SwitchResponse.NumberedEvent> after(long ackTo) {
        List<SwitchResponse.NumberedEvent> out = new ArrayList<>();
        for (SwitchResponse.NumberedEvent e : events) {
            if (e.number() > ackTo) {
                out.add(e);
            }
        }
        return out;
    }

    /** Registers unless events above {@code ackTo} exist; false means "read again now". */
    synchronized boolean await(long ackTo, Waiter w) {
        if (next - 1 > ackTo) {
            return false;
        }
        waiters.add(w);
        return true;
    }

    synchronized void cancel(Waiter w) {
        waiters.remove(w);
    }
}
