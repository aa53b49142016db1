package org.xenstorage.daemon.remote;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.AttributeKey;
import io.netty.util.ReferenceCountUtil;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.migrate.remote.NbdUpgrade;
import org.xenstorage.migrate.remote.RemoteNbdPath;
import org.xenstorage.migrate.remote.RemoteUrl;

/**
 * Looks at each request head before anything else does, in this order:
 * <ol>
 *   <li>malformed (the HTTP decoder failed: bad syntax, a head over the size limits, a bad escape) → 400;</li>
 *   <li>no token where xapi's URL form puts it (exactly one {@code session_id} in the query, equal to the token)
 *       → 403: a token in a header, a cookie, the path or the body does not count;</li>
 *   <li>{@code /services/SM}: {@code POST} goes on to the aggregator and {@link RpcHandler}; other methods 405;</li>
 *   <li>an NBD upgrade path ({@link RemoteNbdPath}): {@code PUT} becomes an {@link NbdSession}; other methods 405;</li>
 *   <li>anything else → 404.</li>
 * </ol>
 * A refused request touches nothing (no mux call, no process) and its connection is closed. Log lines name the
 * method, status and peer, never the request target (it holds the token, or a token put in the wrong place).
 */
final class RequestGate extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = LoggerFactory.getLogger(RequestGate.class);
    /** Set while a {@code /services/SM} call waits for its reply (an idle connection is closed only otherwise). */
    static final AttributeKey<Boolean> CALL_IN_FLIGHT = AttributeKey.valueOf("remote-call-in-flight");

    private enum State { BETWEEN, CALL, DISCARD, NBD }

    private final EndpointToken token;
    private final NbdSessions sessions;
    private State state = State.BETWEEN;

    RequestGate(EndpointToken token, NbdSessions sessions) {
        this.token = token;
        this.sessions = sessions;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof HttpRequest request) {
            if (onHead(ctx, request)) {
                ctx.fireChannelRead(msg);
            } else {
                ReferenceCountUtil.release(msg);
            }
            return;
        }
        if (msg instanceof HttpContent content && state == State.CALL) {
            if (content.decoderResult().isFailure()) {
                ReferenceCountUtil.release(msg);
                refuse(ctx, null, HttpResponseStatus.BAD_REQUEST, "malformed request body");
                return;
            }
            if (content instanceof LastHttpContent) {
                state = State.BETWEEN;
            }
            ctx.fireChannelRead(msg);
            return;
        }
        // the (empty) end of an upgrade request, bytes after an upgrade or a refusal: dropped
        ReferenceCountUtil.release(msg);
    }

    /** Checks a request head; true when it goes on to the {@code /services/SM} call handlers. */
    private boolean onHead(ChannelHandlerContext ctx, HttpRequest request) {
        if (state == State.NBD || state == State.DISCARD) {
            return false;
        }
        if (request.decoderResult().isFailure()) {
            refuse(ctx, request, HttpResponseStatus.BAD_REQUEST, "malformed request");
            return false;
        }
        if (Boolean.TRUE.equals(ctx.channel().attr(CALL_IN_FLIGHT).get())) {
            refuse(ctx, request, HttpResponseStatus.BAD_REQUEST, "pipelined requests are not supported: wait for "
                    + "the reply");
            return false;
        }
        QueryStringDecoder uri;
        String path;
        List<String> sessionIds;
        try {
            uri = new QueryStringDecoder(request.uri());
            path = uri.rawPath();
            sessionIds = uri.parameters().getOrDefault("session_id", List.of());
        } catch (IllegalArgumentException e) {
            refuse(ctx, request, HttpResponseStatus.BAD_REQUEST, "malformed request target");
            return false;
        }
        if (sessionIds.size() != 1 || !token.matches(sessionIds.get(0))) {
            refuse(ctx, request, HttpResponseStatus.FORBIDDEN, "forbidden: the token is missing or wrong (it goes in"
                    + " the query, as session_id)");
            return false;
        }
        if (path.equals(RemoteUrl.SERVICE_PATH) || path.equals(RemoteUrl.SERVICE_PATH + "/")) {
            if (!request.method().equals(HttpMethod.POST)) {
                refuse(ctx, request, HttpResponseStatus.METHOD_NOT_ALLOWED, RemoteUrl.SERVICE_PATH + " takes POST");
                return false;
            }
            state = State.CALL;
            return true;
        }
        Optional<RemoteNbdPath> nbd = RemoteNbdPath.parse(path);
        if (nbd.isPresent()) {
            if (!request.method().name().equals(NbdUpgrade.METHOD)) {
                refuse(ctx, request, HttpResponseStatus.METHOD_NOT_ALLOWED, "an NBD path takes " + NbdUpgrade.METHOD);
                return false;
            }
            state = State.NBD;
            ctx.channel().config().setAutoRead(false);
            LOG.info("remote endpoint: NBD {} from {}", token.scrub(nbd.get().toString()),
                    ctx.channel().remoteAddress());
            sessions.open(ctx.channel(), nbd.get());
            return false;
        }
        refuse(ctx, request, HttpResponseStatus.NOT_FOUND, "no such path");
        return false;
    }

    private void refuse(ChannelHandlerContext ctx, HttpRequest request, HttpResponseStatus status, String reason) {
        state = State.DISCARD;
        logRefusal(request == null ? "-" : request.method().name(), status.code(), ctx.channel().remoteAddress(),
                reason);
        HttpReplies.refuse(ctx, status, reason);
    }

    /** When the next refusal may be logged: at most one line a second, however fast bad requests come. */
    private static final AtomicLong NEXT_LOG = new AtomicLong(System.nanoTime());
    private static final AtomicInteger UNLOGGED = new AtomicInteger();

    private static void logRefusal(String method, int status, Object peer, String reason) {
        long now = System.nanoTime();
        long next = NEXT_LOG.get();
        if (now - next >= 0 && NEXT_LOG.compareAndSet(next, now + TimeUnit.SECONDS.toNanos(1))) {
            int more = UNLOGGED.getAndSet(0);
            LOG.info("remote endpoint: {} {} from {}: {}{}", method, status, peer, reason,
                    more == 0 ? "" : " (and " + more + " refusal(s) not logged since the last line)");
        } else {
            UNLOGGED.incrementAndGet();
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof IdleStateEvent && state != State.NBD
                && !Boolean.TRUE.equals(ctx.channel().attr(CALL_IN_FLIGHT).get())) {
            ctx.close();
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LOG.debug("remote endpoint connection from {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
        ctx.close();
    }
}
