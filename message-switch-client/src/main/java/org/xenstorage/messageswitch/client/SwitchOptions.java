package org.xenstorage.messageswitch.client;

import java.time.Duration;
import java.util.Objects;

/**
 * Connection tuning shared by {@link SwitchRpcClient} and {@link SwitchQueueServer}.
 *
 * @param connectTimeout how long the first connection (and each later attempt) may take
 * @param backoffInitial first delay before reconnecting after the switch went away
 * @param backoffMax     the delay doubles up to this ceiling while the switch stays away
 * @param pollTimeout    the long-poll {@code transfer} timeout (upstream's clients use 30 s)
 * @param maxBodyBytes   the largest response body accepted from the switch
 */
public record SwitchOptions(Duration connectTimeout, Duration backoffInitial, Duration backoffMax,
                            Duration pollTimeout, int maxBodyBytes) {
    public SwitchOptions {
        Objects.requireNonNull(connectTimeout, "connectTimeout");
        Objects.requireNonNull(backoffInitial, "backoffInitial");
        Objects.requireNonNull(backoffMax, "backoffMax");
        Objects.requireNonNull(pollTimeout, "pollTimeout");
        if (backoffInitial.isNegative() || backoffInitial.isZero() || backoffMax.compareTo(backoffInitial) < 0) {
            throw new IllegalArgumentException("backoff must be positive and max >= initial");
        }
        if (pollTimeout.isNegative() || connectTimeout.isNegative() || connectTimeout.isZero()) {
            throw new IllegalArgumentException("timeouts must be positive");
        }
        if (maxBodyBytes < 1024) {
            throw new IllegalArgumentException("maxBodyBytes too small: " + maxBodyBytes);
        }
    }

    /** 5 s connect, 50 ms..2 s backoff, 30 s long-poll, 64 MiB bodies. */
    public static SwitchOptions defaults() {
        return new SwitchOptions(Duration.ofSeconds(5), Duration.ofMillis(50), Duration.ofSeconds(2),
                Duration.ofSeconds(30), 64 << 20);
    }

    public SwitchOptions withBackoff(Duration initial, Duration max) {
        return new SwitchOptions(connectTimeout, initial, max, pollTimeout, maxBodyBytes);
    }

    public SwitchOptions withPollTimeout(Duration poll) {
        return new SwitchOptions(connectTimeout, backoffInitial, backoffMax, poll, maxBodyBytes);
    }

    public SwitchOptions withConnectTimeout(Duration connect) {
        return new SwitchOptions(connect, backoffInitial, backoffMax, pollTimeout, maxBodyBytes);
    }

    /** The reconnect delay after {@code failures} consecutive failed attempts (0 = first retry). */
    Duration backoff(int failures) {
        long ms = backoffInitial.toMillis();
        for (int i = 0; i < failures && ms < backoffMax.toMillis(); i++) {
            ms *= 2;
        }
        return Duration.ofMillis(Math.min(ms, backoffMax.toMillis()));
    }
}
