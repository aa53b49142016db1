package org.xenstorage.daemon.remote;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import org.xenstorage.idl.rpc.RpcTransport;

/**
 * {@code POST /services/SM}, once the gate let it through and its body is whole: the body is a JSON-RPC request
 * handed to the mux in-process ({@code MuxServer.handle}, which never blocks), the reply text is the response
 * body. One call at a time per connection (reading pauses until the reply is written), so replies keep the order
 * of requests; a keep-alive connection then takes the next one.
 */
final class RpcHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
    private final RpcTransport mux;

    RpcHandler(RpcTransport mux) {
        this.mux = mux;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
        String body = request.content().toString(StandardCharsets.UTF_8);
        boolean keepAlive = HttpUtil.isKeepAlive(request);
        ctx.channel().config().setAutoRead(false);
        ctx.channel().attr(RequestGate.CALL_IN_FLIGHT).set(Boolean.TRUE);
        CompletableFuture<String> reply;
        try {
            reply = mux.call(body);
        } catch (RuntimeException e) {
            reply = CompletableFuture.failedFuture(e);
        }
        reply.whenComplete((text, error) -> {
            ctx.channel().attr(RequestGate.CALL_IN_FLIGHT).set(Boolean.FALSE);
            if (error != null) {
                // MuxServer.handle always answers; only a transport could fail here
                HttpReplies.refuse(ctx, HttpResponseStatus.INTERNAL_SERVER_ERROR, "the call failed: " + error);
                return;
            }
            FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                    Unpooled.copiedBuffer(text, StandardCharsets.UTF_8));
            r.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
                    .setInt(HttpHeaderNames.CONTENT_LENGTH, r.content().readableBytes());
            HttpUtil.setKeepAlive(r, keepAlive);
            ctx.writeAndFlush(r).addListener(keepAlive ? (ChannelFutureListener) f -> {
                if (f.isSuccess()) {
                    ctx.channel().config().setAutoRead(true);
                } else {
                    ctx.close();
                }
            } : ChannelFutureListener.CLOSE);
        });
    }
}
