package org.xenstorage.daemon.remote;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/** The endpoint's refusals: a short plain-text reason, then the connection is closed (lingering, see below). */
final class HttpReplies {
    /** How long a refused connection is read (and dropped) after the answer, at most. */
    static final Duration LINGER = Duration.ofSeconds(2);

    private HttpReplies() {
    }

    /** Answers {@code status} with {@code reason} and closes the connection once it is written. */
    static void refuse(ChannelHandlerContext ctx, HttpResponseStatus status, String reason) {
        refuse(ctx.channel(), status, reason);
    }

    static void refuse(Channel ch, HttpResponseStatus status, String reason) {
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                Unpooled.copiedBuffer(reason + "\n", StandardCharsets.UTF_8));
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.TEXT_PLAIN + "; charset=utf-8")
                .setInt(HttpHeaderNames.CONTENT_LENGTH, r.content().readableBytes())
                .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE)
                .set(HttpHeaderNames.CACHE_CONTROL, "no-cache, no-store");
        ch.writeAndFlush(r).addListener(f -> lingeringClose(ch));
    }

    /**
     * Ends a refused connection so that the client reads the answer: a close with unread request bytes (a body
     * the endpoint did not want) makes the kernel send a reset, which can discard the answer on its way. So: end
     * our side (FIN), keep reading (and dropping) what the client still sends, and close when it has stopped, or
     * after {@link #LINGER} at the latest. Over TLS, the close sends TLS's own close first.
     */
    private static void lingeringClose(Channel ch) {
        if (!(ch instanceof DuplexChannel d) || ch.pipeline().get(SslHandler.class) != null || !ch.isActive()) {
            ch.close();
            return;
        }
        // from now on every byte is dropped before any handler sees it: nothing more is parsed, let alone served
        ch.pipeline().addFirst("drop", new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ReferenceCountUtil.release(msg);
            }
        });
        d.shutdownOutput().addListener(f -> {
            ch.config().setAutoRead(true);
            ch.read();
            ch.eventLoop().schedule(() -> ch.close(), LINGER.toMillis(), TimeUnit.MILLISECONDS);
        });
    }
}
