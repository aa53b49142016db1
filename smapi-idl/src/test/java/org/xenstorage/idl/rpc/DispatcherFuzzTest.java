package org.xenstorage.idl.rpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.idl.wire.WireCodec;
import org.xenstorage.testing.Soon;

/**
 * 10,000 mutated or truncated requests into the dispatcher: every reply is a well-formed JSON-RPC
 * response whose error (if any) decodes to a known storage error, and no stack trace reaches the wire.
 */
class DispatcherFuzzTest {
    private static final long SEED = 0x5eedL;
    private static final String[] JUNK = {"null", "1", "-1", "1e400", "\"\"", "[]", "{}", "[[]]", "true", "\"x\"",
        "{\"a\":[1,{\"b\":null}]}", "9223372036854775808", "NaN", "\"\\u0000\""};

    /** A service where every method answers its golden fixture, so well-formed calls succeed. */
    static StorageService fixtureService() throws Exception {
        JsonNode spec = GoldenMethodsTest.resource("smapiv2-methods.json");
        return GoldenMethodsTest.answering((m, a) -> {
            MethodDescriptor d = MethodTable.all().stream().filter(x -> x.method().equals(m)).findFirst().orElseThrow();
            Object result = null;
            for (JsonNode s : spec) {
                if (s.get("method").textValue().equals(d.wireName())) {
                    result = GoldenFixtures.result(d.wireName(), s.get("returns").textValue());
                }
            }
            return d.async() ? CompletableFuture.completedFuture(result) : result;
        });
    }

    @Test
    void tenThousandMutatedRequestsGetOnlyWellFormedReplies() throws Exception {
        StorageDispatcher dispatcher = new StorageDispatcher(fixtureService());
        List<String> seeds = GoldenMethodsTest.goldenLines().stream().map(l -> Json.write(l.get("request"))).toList();
        Random random = new Random(SEED);
        int errors = 0;
        int successes = 0;
        for (int i = 0; i < 10_000; i++) {
            String request = mutate(seeds.get(random.nextInt(seeds.size())), random);
            String reply = Soon.get(dispatcher.dispatch(request));
            JsonNode root = Json.parse(reply);
            assertTrue(root.isObject() && root.has("result") && root.has("error") && root.has("id"),
                    () -> "malformed reply " + reply + " to " + request);
            assertFalse(reply.contains("\tat org.") || reply.contains("Exception\n"), "no stack trace on the wire");
            JsonRpc.Response response = JsonRpc.parseResponse(reply);
            if (response.error().isPresent()) {
                StorageError e = WireCodec.decode(response.error().get(), StorageError.class);
                assertFalse(e instanceof StorageError.UnknownError, reply);
                if (e instanceof StorageError.InternalError internal) {
                    assertFalse(internal.message().isBlank(), "a clear message");
                }
                errors++;
            } else {
                successes++;
            }
        }
        assertEquals(10_000, errors + successes);
        assertTrue(errors > 5_000, "most mutations are invalid requests (" + errors + ")");
        assertTrue(successes > 100, "some mutations stay valid calls (" + successes + ")");
    }

    private static String mutate(String s, Random r) {
        switch (r.nextInt(9)) {
            case 0:
                return s.substring(0, r.nextInt(s.length()));
            case 1: {
                int at = r.nextInt(s.length());
                return s.substring(0, at) + (char) (32 + r.nextInt(95)) + s.substring(at + 1);
            }
            case 2: {
                int at = r.nextInt(s.length());
                return s.substring(0, at) + s.substring(Math.min(s.length(), at + 1 + r.nextInt(8)));
            }
            case 3: {
                // swap one value for junk
                int colon = s.indexOf(':', r.nextInt(s.length()));
                if (colon < 0) {
                    return s;
                }
                int end = colon + 1;
                while (end < s.length() && ",}]".indexOf(s.charAt(end)) < 0) {
                    end++;
                }
                return s.substring(0, colon + 1) + JUNK[r.nextInt(JUNK.length)] + s.substring(end);
            }
            case 4:
                return s.replaceFirst("\"method\":\"([A-Za-z.]+)\"", "\"method\":\"$1" + (r.nextBoolean() ? "x" : "") + "\"");
            case 5:
                return s.replaceFirst("\"params\":\\[", "\"params\":" + JUNK[r.nextInt(JUNK.length)] + ",\"p\":[");
            case 6:
                return s.replace("\"id\":", r.nextBoolean() ? "\"di\":" : "\"id\":null,\"x\":");
            case 7:
                return JUNK[r.nextInt(JUNK.length)];
            default:
                return s; // unchanged: must succeed
        }
    }

    @Test
    void theMutatorSeedsAreValid() throws Exception {
        StorageDispatcher dispatcher = new StorageDispatcher(fixtureService());
        for (JsonNode line : GoldenMethodsTest.goldenLines()) {
            String reply = dispatcher.dispatch(Json.write(line.get("request"))).join();
            assertNotNull(reply);
            assertTrue(JsonRpc.parseResponse(reply).error().isEmpty(), reply);
        }
    }
}
