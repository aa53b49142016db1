package org.xenstorage.migrate.remote;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves every byte a channel reads to its peer, both ways once {@link #join joined}, with back-pressure: a
 * side stops reading while its peer's outbound buffer is over the high-water mark and resumes when it drains.
 * When either side closes, the other is closed after what it still has to write is flushed. Used by both ends
 * of the NBD upgrade (the tunnel's Unix socket ↔ the remote endpoint, the endpoint ↔ the NBD server).
 */
public final class ByteRelay extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = LoggerFactory.getLogger(ByteRelay.class);
    private final Channel peer;

    private ByteRelay(Channel peer) {
        this.peer = peer;
    }

    /**
     * Relays {@code a} ↔ {@code b} and starts reading both. Call it on the event loop both channels belong to,
     * after anything either must send first (a response head) has been written.
     */
    public static void join(Channel a, Channel b) {
        a.pipeline().addLast("relay", new ByteRelay(b));
        b.pipeline().addLast("relay", new ByteRelay(a));
        a.config().setAutoRead(true);
        b.config().setAutoRead(true);
        a.read();
        b.read();
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
}
