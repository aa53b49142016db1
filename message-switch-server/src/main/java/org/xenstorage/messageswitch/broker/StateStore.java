package org.xenstorage.messageswitch.broker;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.messageswitch.protocol.Entry;
import org.xenstorage.messageswitch.protocol.RpcJson;
import org.xenstorage.statefile.AtomicFile;

/**
 * Keeps the persistent queues on disk ({@code queues.json} in the state directory, written only
 * through {@link AtomicFile}). Writes are coalesced on one background thread: a queue created or
 * destroyed is saved at once, message traffic at most every {@link #MESSAGE_SAVE_DELAY_MS} ms
 * (upstream's redo log flushes every 5 s), and the final state on close; every save runs on that one thread.
 */
final class StateStore implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(StateStore.class);
    static final String FILE_NAME = "queues.json";
    static final long MESSAGE_SAVE_DELAY_MS = 200;
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private final Path file;
    private final ScheduledExecutorService writer;
    private final AtomicBoolean scheduled = new AtomicBoolean();
    private volatile Supplier<QueueTable.Persistent> source;

    StateStore(Path stateDir) throws IOException {
        AtomicFile.createPrivateDirectories(stateDir);
        this.file = stateDir.resolve(FILE_NAME);
        this.writer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "switch-state-writer");
            t.setDaemon(true);
            return t;
        });
    }

    /** Reads the saved state, or empty on first start. @throws IOException when the file is unreadable or corrupt */
    Optional<QueueTable.Persistent> load() throws IOException {
        AtomicFile.removeStaleTemporaries(file.toAbsolutePath().getParent());
        Optional<byte[]> bytes = AtomicFile.read(file);
        if (bytes.isEmpty()) {
            return Optional.empty();
        }
        try {
            JsonNode root = MAPPER.readTree(new String(bytes.get(), StandardCharsets.UTF_8));
            long next = root.path("next_id").asLong(0);
            Map<String, Map<Long, Entry>> queues = new LinkedHashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = root.path("queues").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> q = it.next();
                Map<Long, Entry> msgs = new TreeMap<>();
                for (JsonNode pair : q.getValue()) {
                    msgs.put(pair.get(0).asLong(), RpcJson.entry(pair.get(1)));
                }
                queues.put(q.getKey(), msgs);
            }
            return Optional.of(new QueueTable.Persistent(next, queues));
        } catch (RuntimeException e) {
            throw new IOException("corrupt switch state in " + file + ": " + e.getMessage(), e);
        }
    }

    void attach(Supplier<QueueTable.Persistent> source) {
        this.source = source;
    }

    /** Something persistent changed: save soon ({@code urgent}: now). Never blocks. */
    void changed(boolean urgent) {
        if (scheduled.compareAndSet(false, true)) {
            try {
                writer.schedule(this::save, urgent ? 0 : MESSAGE_SAVE_DELAY_MS, TimeUnit.MILLISECONDS);
            } catch (RuntimeException rejected) {
                scheduled.set(false); // closing: close() writes the final state
            }
        }
    }

    private void save() {
        scheduled.set(false);
        Supplier<QueueTable.Persistent> s = source;
        if (s == null) {
            return;
        }
        QueueTable.Persistent p = s.get();
        ObjectNode root = MAPPER.createObjectNode();
        root.put("version", 1);
        root.put("next_id", p.nextId());
        ObjectNode qs = root.putObject("queues");
        p.queues().forEach((name, msgs) -> {
            ArrayNode a = qs.putArray(name);
            msgs.forEach((id, e) -> a.add(MAPPER.createArrayNode().add(id).add(RpcJson.entry(e))));
        });
        try {
            AtomicFile.write(file, RpcJson.write(root).getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            LOG.error("cannot save the switch's persistent queues to {}: {}", file, e.toString());
        }
    }

    @Override
    public void close() {
        // the final save runs on the writer thread too, after any save in progress: two saves never run at once,
        // so an older snapshot can never be renamed into place after the final one
        try {
            writer.execute(this::save);
        } catch (RuntimeException alreadyClosed) {
            return;
        }
        writer.shutdown();
        try {
            while (!writer.awaitTermination(10, TimeUnit.SECONDS)) {
                LOG.warn("still saving the switch's persistent queues to {}", file);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
