package org.xenstorage.daemon.service;

import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/** Daemon threads named for what they run ({@code mux-worker-3}), so a thread dump reads as the design. */
final class NamedThreads implements ThreadFactory {
    private final String name;
    private final AtomicInteger n = new AtomicInteger();

    NamedThreads(String name) {
        this.name = name;
    }

    @Override
    public Thread newThread(Runnable r) {
        Thread t = new Thread(r, name + "-" + n.incrementAndGet());
        t.setDaemon(true);
        return t;
    }
}
