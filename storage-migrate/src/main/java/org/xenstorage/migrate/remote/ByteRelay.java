package org.xenstorage.migrate.remote;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.epoll.AbstractEpollStreamChannel;
import io.netty.channel.epoll.EpollChannelConfig;
import io.netty.channel.epoll.EpollMode;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.ssl.SslHandler;
import java.io.IOException;
import java.nio.ByteBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves every byte a channel reads to its peer, both ways once {@link #join joined}, with back-pressure: a
 * side stops reading while its peer cannot take more, and resumes when it drains. When either side closes, the
 * other is closed after what it still has to write is flushed. Used by both ends of the NBD upgrade (the tunnel's
 * Unix socket ↔ the remote endpoint, the endpoint ↔ the NBD server).
 *
 * <p>Two ways, chosen per pair: when both are native epoll stream channels on one event loop, level-triggered,
 * and neither speaks TLS, the kernel moves the bytes ({@code splice(2)} through a pipe, Netty's
 * {@link AbstractEpollStreamChannel#spliceTo}): no copy into the JVM, which on a loaded machine is most of what a
 * relay costs (NbdRelayBench). Otherwise (TLS, other transports) the bytes pass through buffers: read, written,
 * flushed once per read batch, reading paused while the peer's outbound buffer is over its high-water mark.
 */
public final class ByteRelay extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = LoggerFactory.getLogger(ByteRelay.class);
    /** What one read of a half-closed spliced channel's rest takes (see {@link SpliceEnd}). */
    private static final int DRAIN_CHUNK = 64 * 1024;
    private final Channel peer;

    private ByteRelay(Channel peer) {
        this.peer = peer;
    }

    /**
     * Relays {@code a} ↔ {@code b} and starts reading both. Call it on the event loop both channels belong to,
     * after anything either must send first (a response head, bytes already read past it) has been written: the
     * relay's bytes follow them in order.
     */
    public static void join(Channel a, Channel b) {
        if (canSplice(a, b)) {
            splice(a, b);
            return;
        }
        a.pipeline().addLast("relay", new ByteRelay(b));
        b.pipeline().addLast("relay", new ByteRelay(a));
        a.config().setAutoRead(true);
        b.config().setAutoRead(true);
        a.read();
        b.read();
    }

    /**
     * Whether {@link #join} splices {@code a} ↔ {@code b}: both native epoll stream channels (TCP or Unix), on one
     * event loop, {@link EpollMode#LEVEL_TRIGGERED} (set before they were registered: the bootstraps of both ends
     * ask for it), and no TLS in either pipeline (TLS bytes must pass through the JVM).
     */
    public static boolean canSplice(Channel a, Channel b) {
        return spliceable(a) && spliceable(b) && a.eventLoop() == b.eventLoop();
    }

    private static boolean spliceable(Channel c) {
        return c instanceof AbstractEpollStreamChannel
                && ((EpollChannelConfig) c.config()).getEpollMode() == EpollMode.LEVEL_TRIGGERED
                && c.pipeline().get(SslHandler.class) == null;
    }

    private static void splice(Channel a, Channel b) {
        a.pipeline().addLast("relay", new SpliceEnd(b));
        b.pipeline().addLast("relay", new SpliceEnd(a));
        // a peer's end of stream reaches SpliceEnd as an event, so that what it sent last is not lost (see there)
        a.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, true);
        b.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, true);
        spliceOneWay(a, b);
        spliceOneWay(b, a);
        // Netty's splice pauses the source's reading while the target cannot take the bytes, and resumes it
        a.config().setAutoRead(true);
        b.config().setAutoRead(true);
        LOG.debug("relay {} <-> {}: spliced", a, b);
    }

    private static void spliceOneWay(Channel from, Channel to) {
        // Integer.MAX_VALUE: until either channel closes, which fails the future
        ChannelFuture f = ((AbstractEpollStreamChannel) from).spliceTo((AbstractEpollStreamChannel) to,
                Integer.MAX_VALUE);
        f.addListener(done -> {
            if (!done.isSuccess()) {
                if (from.isActive() && to.isActive()) {
                    LOG.debug("relay {} -> {}: splice failed: {}", from, to, String.valueOf(done.cause()));
                }
                closeOnFlush(to);
                closeOnFlush(from);
            }
        });
    }

    /** The handler that relays what its channel reads to {@code peer}; {@link #join} is the usual way in. */
    public static ByteRelay to(Channel peer) {
        return new ByteRelay(peer);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        peer.write(msg).addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        peer.flush();
        if (!peer.isWritable()) {
            ctx.channel().config().setAutoRead(false);
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        // this channel's outbound buffer drained: the peer, which fills it, may read again
        if (ctx.channel().isWritable()) {
            peer.config().setAutoRead(true);
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        closeOnFlush(peer);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LOG.debug("relay {} -> {} failed: {}", ctx.channel(), peer, cause.toString());
        ctx.close();
    }

    /** Closes {@code ch} once everything written to it is flushed. */
    public static void closeOnFlush(Channel ch) {
        if (ch.isActive()) {
            ch.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        } else {
            ch.close();
        }
    }

    /**
     * One end of a spliced pair: the bytes never pass through here, only the ends of the connection. When the
     * other side of this channel ends its stream, Netty's splice stops after the batch it is in, although more
     * may be queued in the socket behind it (a client that sends its last requests and closes at once); with
     * half-closure allowed, Netty shuts the input down (the queued bytes stay readable) and says so with
     * {@link ChannelInputShutdownEvent}: the rest is read here, to its end, and written to the peer after what
     * the splice already moved, then both are closed as the buffered relay closes them.
     */
    private static final class SpliceEnd extends ChannelInboundHandlerAdapter {
        private final Channel peer;

        SpliceEnd(Channel peer) {
            this.peer = peer;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            // not while the splice runs; kept in order should Netty ever hand bytes up instead
            peer.writeAndFlush(msg).addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt == ChannelInputShutdownEvent.INSTANCE) {
                drainRest((AbstractEpollStreamChannel) ctx.channel());
                closeOnFlush(peer);
                ctx.close();
                return;
            }
            ctx.fireUserEventTriggered(evt);
        }

        /** Writes to the peer what the socket still holds up to its end of stream. */
        private void drainRest(AbstractEpollStreamChannel ch) {
            ByteBuf buf = ch.alloc().directBuffer(DRAIN_CHUNK);
            try {
                while (true) {
                    if (!buf.isWritable()) {
                        peer.write(buf).addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
                        buf = ch.alloc().directBuffer(DRAIN_CHUNK);
                    }
                    ByteBuffer nio = buf.internalNioBuffer(buf.writerIndex(), buf.writableBytes());
                    int n = ch.fd().read(nio, nio.position(), nio.limit());
                    if (n <= 0) {
                        break; // the end of the stream (or nothing more queued)
                    }
                    buf.writerIndex(buf.writerIndex() + n);
                }
            } catch (IOException e) {
                LOG.debug("relay {}: reading what was left failed: {}", ch, e.toString());
            }
            if (buf.isReadable()) {
                peer.write(buf).addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
            } else {
                buf.release();
            }
            peer.flush();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            closeOnFlush(peer);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            LOG.debug("relay {} -> {} failed: {}", ctx.channel(), peer, cause.toString());
            ctx.close();
        }
    }
}
