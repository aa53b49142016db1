package org.xenstorage.daemon.updates;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.xenstorage.idl.api.UpdatesApi;
import org.xenstorage.idl.types.UpdatesResult;

/**
 * {@code UPDATES.get} over the process-wide {@link UpdateLog}: a long-poll that holds no thread while it
 * waits. Barriers are dropped from the answer, as the storage API does upstream.
 */
public final class UpdatesService implements UpdatesApi {
    private final UpdateLog log;

    public UpdatesService(UpdateLog log) {
        this.log = log;
    }

    @Override
    public CompletableFuture<UpdatesResult> get(String dbg, String from, Optional<Integer> timeout) {
        long token = parseToken(from);
        return log.await(token, timeout.map(Duration::ofSeconds))
                .thenApply(c -> new UpdatesResult(c.updates(), Long.toString(c.last())));
    }

    /** A decimal token; anything else (including {@code ""}) means "from the start" as upstream. */
    static long parseToken(String from) {
        if (from == null || from.isEmpty()) {
            return 0;
        }
        try {
            return Math.max(0, Long.parseLong(from.trim()));
        } catch (NumberFormatException e) {
            return 0;
        }
    }
}
