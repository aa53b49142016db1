package org.xenstorage.smapiv1.datapath;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Supplier;

/**
 * The wrapper's locks (spec 2.5):
 * <ul>
 *   <li>an SR lock per SR id, serialising SR.attach/detach/destroy/reset/create/stat/scan;</li>
 *   <li>per SR, a VDI lock per VDI id: calls on one VDI run one at a time (SM calls included), calls on
 *       different VDIs run in parallel;</li>
 *   <li>per SR, the master VDI lock: a fair read/write lock whose read side every VDI lock holder
 *       takes first. SR.detach/destroy take the write side, so they wait for VDI calls in flight and,
 *       once waiting, no new VDI call starts (writer preference of a fair lock).</li>
 * </ul>
 * Order: SR lock, then master. No path takes the same lock twice. Unlike upstream the per-SR tables
 * are kept after SR.detach/reset: dropping a table while a caller waits on it would let a second
 * caller create a fresh lock for the same VDI and run beside it.
 */
public final class DatapathLocks {
    private final Map<String, ReentrantLock> srLocks = new ConcurrentHashMap<>();
    private final Map<String, SrVdiLocks> vdiTables = new ConcurrentHashMap<>();

    private static final class SrVdiLocks {
        final ReentrantReadWriteLock master = new ReentrantReadWriteLock(true);
        final Map<String, ReentrantLock> vdis = new ConcurrentHashMap<>();
    }

    private SrVdiLocks table(String sr) {
        return vdiTables.computeIfAbsent(sr, k -> new SrVdiLocks());
    }

    /** Runs {@code body} holding the SR lock. */
    public <T> T withSr(String sr, Supplier<T> body) {
        ReentrantLock lock = srLocks.computeIfAbsent(sr, k -> new ReentrantLock());
        lock.lock();
        try {
            return body.get();
        } finally {
            lock.unlock();
        }
    }

    /** Runs {@code body} holding the VDI lock (and the read side of the SR's master lock). */
    public <T> T withVdi(String sr, String vdi, Supplier<T> body) {
        SrVdiLocks t = table(sr);
        t.master.readLock().lock();
        try {
            ReentrantLock lock = t.vdis.computeIfAbsent(vdi, k -> new ReentrantLock());
            lock.lock();
            try {
                return body.get();
            } finally {
                lock.unlock();
            }
        } finally {
            t.master.readLock().unlock();
        }
    }

    /** Runs {@code body} holding the SR's master VDI lock: no VDI call of that SR runs meanwhile. */
    public <T> T withMaster(String sr, Supplier<T> body) {
        SrVdiLocks t = table(sr);
        t.master.writeLock().lock();
        try {
            return body.get();
        } finally {
            t.master.writeLock().unlock();
        }
    }
}
