package org.xenstorage.messageswitch.client;

import io.netty.channel.EventLoopGroup;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A connection to the switch that comes back: connects, runs the setup (login, queue creation),
 * publishes the ready connection, and when it drops reconnects after an exponential backoff
 * (never a busy loop while the switch is down), re-running the setup. Listeners hear each
 * connection going up and down. All scheduling is on the event loop; nothing here blocks.
 */
final class ManagedConnection implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ManagedConnection.class);

    private final String name;
    private final SwitchAddress address;
    private final EventLoopGroup group;
    private final SwitchOptions options;
    private final Function<SwitchConnection, CompletableFuture<Void>> setup;
    private final Consumer<SwitchConnection> onUp;
    private final Consumer<SwitchConnection> onDown;
    private final CompletableFuture<Void> firstReady = new CompletableFuture<>();

    private volatile SwitchConnection current;
    private volatile boolean closed;
    private int failures;
    private long generation;
    private final java.util.concurrent.atomic.AtomicLong attempts = new java.util.concurrent.atomic.AtomicLong();

    ManagedConnection(String name, SwitchAddress address, EventLoopGroup group, SwitchOptions options,
                      Function<SwitchConnection, CompletableFuture<Void>> setup,
                      Consumer<SwitchConnection> onUp, Consumer<SwitchConnection> onDown) {
        this.name = name;
        this.address = address;
        this.group = group;
        this.options = options;
        this.setup = setup;
        this.onUp = onUp;
        this.onDown = onDown;
    }

    /** Starts connecting; the future completes at the first ready connection or fails with the first error. */
    CompletableFuture<Void> start() {
        attempt();
        return firstReady;
    }

    /** The ready connection, if there is one now. */
    Optional<SwitchConnection> current() {
        return Optional.ofNullable(current);
    }

    /** How many times a connection was attempted (first connect and every reconnect try). */
    long attempts() {
        return attempts.get();
    }

    /** How many connections have become ready so far (changes on every reconnect). */
    synchronized long generation() {
        return generation;
    }

    private void attempt() {
        if (closed) {
            return;
        }
        attempts.incrementAndGet();
        SwitchConnection.open(address, group, options).thenCompose(c -> {
            if (closed) {
                c.close();
                return CompletableFuture.<SwitchConnection>failedFuture(
                        new SwitchException(SwitchException.Kind.CLOSED, null, name + " closed"));
            }
            // a switch that accepts but never answers must not wedge the reconnect loop
            return setup.apply(c).orTimeout(options.connectTimeout().toMillis(), TimeUnit.MILLISECONDS).handle((v, e) -> {
                if (e != null) {
                    c.close();
                    throw Failures.asSwitch(e, null, SwitchException.Kind.PROTOCOL);
                }
                return c;
            });
        }).whenComplete((c, e) -> {
            if (e != null) {
                SwitchException se = Failures.asSwitch(e, null, SwitchException.Kind.DISCONNECTED);
                if (!firstReady.isDone()) {
                    firstReady.completeExceptionally(se);
                    return; // the owner decides whether to keep trying: it failed to start
                }
                retryLater(se);
                return;
            }
            synchronized (this) {
                if (closed) {
                    // close() ran while this connection's setup was in flight: it found no current connection,
                    // so this one is ours to close, or it would leak (and keep its session on the switch)
                    c.close();
                    return;
                }
                failures = 0;
                generation++;
                current = c;
            }
            c.closeFuture().thenRun(() -> dropped(c));
            LOG.debug("{}: connected to {}", name, address);
            onUp.accept(c);
            firstReady.complete(null);
        });
    }

    private void dropped(SwitchConnection c) {
        synchronized (this) {
            if (current == c) {
                current = null;
            }
        }
        onDown.accept(c);
        if (!closed) {
            LOG.info("{}: connection to the switch at {} dropped; reconnecting", name, address);
            retryLater(null);
        }
    }

    private void retryLater(SwitchException cause) {
        if (closed) {
            return;
        }
        Duration delay;
        synchronized (this) {
            delay = options.backoff(failures++);
        }
        if (cause != null) {
            LOG.debug("{}: reconnect failed ({}); next try in {} ms", name, cause.getMessage(), delay.toMillis());
        }
        group.next().schedule(this::attempt, delay.toMillis(), TimeUnit.MILLISECONDS);
    }

    @Override
    public void close() {
        SwitchConnection c;
        synchronized (this) {
            // under the lock that publishes a new connection: either it is published first and closed here,
            // or it sees closed and closes itself
            closed = true;
            c = current;
        }
        if (c != null) {
            c.close();
        }
        firstReady.completeExceptionally(new SwitchException(SwitchException.Kind.CLOSED, null, name + " closed"));
    }
}
