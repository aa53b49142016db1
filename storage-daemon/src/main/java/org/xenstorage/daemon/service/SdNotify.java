package org.xenstorage.daemon.service;

import io.netty.channel.epoll.Epoll;
import io.netty.channel.unix.Socket;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * systemd's notify protocol: one datagram per message to the Unix socket named by {@code $NOTIFY_SOCKET}
 * ({@code @name} = abstract namespace). The JDK has no Unix datagram sockets, so this uses Netty's native
 * epoll transport (already on the classpath for the switch client). Without {@code $NOTIFY_SOCKET}
 * (not started by systemd) every call is a no-op.
 */
public final class SdNotify {
    private static final Logger LOG = LoggerFactory.getLogger(SdNotify.class);

    private final Optional<byte[]> address;

    private SdNotify(Optional<byte[]> address) {
        this.address = address;
    }

    /** From the process environment. */
    public static SdNotify fromEnvironment() {
        return fromEnvironment(System.getenv());
    }

    /** From the given environment (an empty map: notifications off). */
    public static SdNotify fromEnvironment(Map<String, String> env) {
        String socket = env.get("NOTIFY_SOCKET");
        if (socket == null || socket.isEmpty()) {
            return new SdNotify(Optional.empty());
        }
        String path = socket.startsWith("@") ? "\0" + socket.substring(1) : socket;
        return new SdNotify(Optional.of(path.getBytes(StandardCharsets.UTF_8)));
    }

    public boolean enabled() {
        return address.isPresent();
    }

    /**
     * The watchdog interval systemd asked for ({@code $WATCHDOG_USEC}, only if {@code $WATCHDOG_PID} is
     * absent or this process).
     */
    public static Optional<Duration> watchdogInterval(Map<String, String> env) {
        String usec = env.get("WATCHDOG_USEC");
        String pid = env.get("WATCHDOG_PID");
        if (usec == null || pid != null && !pid.equals(Long.toString(ProcessHandle.current().pid()))) {
            return Optional.empty();
        }
        try {
            long us = Long.parseLong(usec.strip());
            return us > 0 ? Optional.of(Duration.ofNanos(us * 1000)) : Optional.empty();
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    public void ready(String status) {
        send("READY=1\nSTATUS=" + status + "\nMAINPID=" + ProcessHandle.current().pid());
    }

    public void stopping() {
        send("STOPPING=1\nSTATUS=stopping");
    }

    public void watchdog() {
        send("WATCHDOG=1");
    }

    public void status(String status) {
        send("STATUS=" + status);
    }

    /** Sends one notification; failures are logged, never thrown (notification is best effort). */
    public synchronized void send(String message) {
        if (address.isEmpty()) {
            return;
        }
        byte[] bytes = message.getBytes(StandardCharsets.UTF_8);
        try {
            Epoll.ensureAvailability();
            Socket s = Socket.newSocketDomainDgram();
            try {
                ByteBuffer buf = ByteBuffer.allocateDirect(bytes.length);
                buf.put(bytes).flip();
                s.sendToDomainSocket(buf, 0, bytes.length, address.get());
            } finally {
                s.close();
            }
        } catch (IOException | RuntimeException | UnsatisfiedLinkError e) {
            LOG.warn("sd_notify({}) failed: {}", message.replace('\n', ' '), e.toString());
        }
    }
}
