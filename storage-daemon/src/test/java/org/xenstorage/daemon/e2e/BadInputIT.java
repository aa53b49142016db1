package org.xenstorage.daemon.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.rpc.JsonRpc;
import org.xenstorage.idl.rpc.StorageClient;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.idl.wire.WireCodec;
import org.xenstorage.messageswitch.client.SwitchRpcClient;
import org.xenstorage.testing.Soon;

/**
 * Issue 8, bad input: a real daemon process (embedded broker, the example SMAPIv1 driver and SMAPIv3
 * plugins, copied under a temporary root) receives mutated JSON-RPC requests for every SMAPIv2 method and
 * every extension call, on its mux queue and straight on the backend queues {@code <prefix>.localfile}
 * and {@code <prefix>.simplefile}. Every reply must parse with the project's codec as a JSON-RPC result or
 * a known storage error, the daemon must stay alive, and ordinary calls must work afterwards.
 * Path-traversal attempts (SR types, plugin names, datapath schemes, VDI locations) must each get a clear
 * error, and canary executables planted outside the configured directories must never run.
 *
 * <p>Size: 2,000 requests in CI; {@code -Dreliability.full=true} sends 100,000 (or
 * {@code -Dreliability.fuzz.requests=N}). Seed: {@code -Dreliability.fuzz.seed} (default fixed).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class BadInputIT {
    static final String PREFIX = "org.xen.xapi.storage";
    /** The mux's own call timeout is {@link Soon#timeout()}: a caller of the mux waits longer. */
    static final Duration T = Soon.times(2);
    static final int REQUESTS = Integer.getInteger("reliability.fuzz.requests",
            Boolean.getBoolean("reliability.full") ? 100_000 : 2_000);
    static final long SEED = Long.getLong("reliability.fuzz.seed", 0x8badf00dL);
    static final int WINDOW = 16;

    Path dir;
    Path smDir;
    Path pluginRoot;
    Path marker;
    DaemonProcess daemon;
    SwitchRpcClient client;
    StorageService mux;
    String v1Sr;
    String v3Sr;
    List<String> canaries = new ArrayList<>();

    static String canaryScript(Path marker) {
        return "#!/bin/sh\necho \"$0 $*\" >> '" + marker + "'\n";
    }

    void plant(Path p) throws Exception {
        Files.createDirectories(p.getParent());
        Files.writeString(p, canaryScript(marker));
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
        canaries.add(p.toString());
    }

    static void cp(Path from, Path to) throws Exception {
        Process p = new ProcessBuilder("cp", "-a", from.toString(), to.toString()).inheritIO().start();
        assertEquals(0, Soon.exitOf(p), "cp -a " + from + " " + to);
    }

    @BeforeAll
    void start(@TempDir Path tmp) throws Exception {
        dir = tmp;
        marker = dir.resolve("CANARY-RAN");
        Path conf = dir.resolve("conf");
        Files.createDirectories(conf);
        smDir = conf.resolve("sm");
        pluginRoot = conf.resolve("plugins");
        cp(EmbeddedModeIT.repoRoot().resolve("examples/sm"), smDir);
        cp(EmbeddedModeIT.repoRoot().resolve("examples/smapiv3"), pluginRoot);
        // a hostile volume plugin: its volumes carry only URIs whose "schemes" try to leave the plugin root
        Path evil = pluginRoot.resolve("volume/org.xen.xapi.storage.evilfile");
        cp(pluginRoot.resolve("volume/org.xen.xapi.storage.simplefile"), evil);
        Path py = evil.resolve("simplefile.py");
        String src = Files.readString(py);
        String uriLine = "\"uri\": [\"file://\" + data],";
        assertTrue(src.contains(uriLine), "simplefile.py still builds its URI as this test expects");
        Files.writeString(py, src.replace(uriLine, "\"uri\": [\"../../evil:x\", \"..:x\", \"/bin/sh:x\", "
                + "\"canary:\" + data, \"evil/../../canary:x\", \"Datapath.attach:x\", \"\\u2024\\u2024/evil:x\"],"));
        for (String fake : List.of("evil", "canary", "bin", "etc")) { // fake plugin dirs outside the root
            for (String script : List.of("Plugin.Query", "Datapath.attach", "Datapath.activate", "SR.attach",
                    "SR.create", "Volume.create", "Volume.stat", "sh", "passwd", "x")) {
                plant(dir.resolve(fake).resolve(script));
                plant(conf.resolve(fake).resolve(script));
            }
        }
        // canaries: executables at every place a traversal could reach, none inside a configured plugin dir
        for (Path base : List.of(dir, conf, pluginRoot, pluginRoot.resolve("volume"), pluginRoot.resolve("datapath"),
                smDir.resolve("sub"))) {
            for (String name : List.of("x", "sh", "canary", "evil", "xSR", "evilSR", "passwd", "Plugin.Query",
                    "Datapath.attach", "Datapath.activate", "SR.attach", "SR.create", "Volume.stat", "Volume.create")) {
                if (!Files.exists(base.resolve(name))) {
                    plant(base.resolve(name));
                }
            }
        }
        Path state = dir.resolve("var");
        daemon = DaemonProcess.start(dir.resolve("daemon.log"), Map.of(), "--state-dir=" + state,
                "--plugin-root=" + pluginRoot, "--sm-dir=" + smDir, "--log-level=WARN",
                "--call-timeout=" + Soon.seconds() + "s");
        Path sock = state.resolve("message-switch.sock");
        client = daemon.connect(sock, "fuzz");
        daemon.awaitServing(client, PREFIX);
        mux = StorageClient.of(text -> client.callAsync(PREFIX, text, T));
        daemon.awaitStarted("the three backend types are live", () -> {
            String types = ext("Registry.types", "{\"dbg\":\"it\"}").get("result").toString();
            return types.contains("localfile") && types.contains("simplefile") && types.contains("evilfile");
        });
        v1Sr = newSr("localfile", "location");
        v3Sr = newSr("simplefile", "path");
    }

    String newSr(String type, String key) throws Exception {
        String sr = UUID.randomUUID().toString();
        Path d = dir.resolve("srs").resolve(sr);
        Files.createDirectories(d);
        EmbeddedModeIT.register(client, sr, type);
        mux.sr().create("it", sr, "fuzz " + type, "", Map.of(key, d.toString()), 0);
        mux.sr().attach("it", sr, Map.of(key, d.toString()));
        return sr;
    }

    @AfterAll
    void stop() throws Exception {
        if (client != null) {
            client.close();
        }
        if (daemon != null) {
            daemon.close();
        }
    }

    JsonNode ext(String method, String params) throws Exception {
        return Json.parse(client.call(PREFIX, "{\"method\":\"" + method + "\",\"params\":[" + params + "],\"id\":7}", T));
    }

    /** The reply must be a JSON-RPC response the codec reads; returns its error, decoded, or null. */
    StorageError checkReply(String request, String reply) throws Exception {
        JsonNode root;
        try {
            root = Json.parse(reply);
        } catch (RuntimeException e) {
            throw new AssertionError("unparsable reply " + cut(reply) + " to " + cut(request), e);
        }
        assertTrue(root.isObject() && root.has("result") && root.has("error") && root.has("id"),
                () -> "malformed reply " + cut(reply) + " to " + cut(request));
        assertFalse(reply.contains("\tat org.") || reply.contains("\tat java."), () -> "stack trace on the wire: " + cut(reply));
        JsonRpc.Response r = JsonRpc.parseResponse(reply);
        if (r.error().isEmpty()) {
            return null;
        }
        StorageError e = WireCodec.decode(r.error().get(), StorageError.class);
        assertTrue(e != null, () -> "undecodable error " + cut(reply));
        if (e instanceof StorageError.InternalError internal) {
            assertFalse(internal.message().isBlank(), () -> "an Internal_error with no message: " + cut(reply));
        }
        return e;
    }

    /** {@code s} as a JSON string literal. */
    static String q(String s) {
        return Json.write(com.fasterxml.jackson.databind.node.TextNode.valueOf(s));
    }

    static String cut(String s) {
        return s.length() > 600 ? s.substring(0, 600) + "...(" + s.length() + " chars)" : s;
    }

    /** Golden requests for all 81 SMAPIv2 methods, pointed at {@code sr}, plus the mux's extension calls. */
    List<String> seeds(String sr, boolean extensions) throws Exception {
        List<String> out = new ArrayList<>();
        Path golden = EmbeddedModeIT.repoRoot().resolve("smapi-idl/src/test/resources/golden/methods.golden.jsonl");
        String safeDir = "fuzz-sr"; // relative: both example backends refuse it, so the fuzz makes no SR anywhere
        for (String line : Files.readAllLines(golden, StandardCharsets.UTF_8)) {
            if (line.isBlank()) {
                continue;
            }
            ObjectNode req = (ObjectNode) Json.parse(line).get("request");
            JsonNode p0 = req.path("params").path(0);
            if (p0 instanceof ObjectNode args) {
                if (args.has("sr")) {
                    args.put("sr", sr);
                }
                for (String cfg : List.of("device_config", "sm_config")) {
                    if (args.has(cfg)) { // never let the fuzz make SRs outside the test's directory
                        args.set(cfg, Json.parse("{\"path\":" + q(safeDir) + ",\"location\":"
                                + q(safeDir) + ",\"uri\":" + q("file:" + safeDir) + "}"));
                    }
                }
                if (args.has("timeout")) {
                    args.put("timeout", 0);
                }
                if (args.has("url")) {
                    args.put("url", "");
                }
            }
            out.add(Json.write(req));
        }
        if (extensions) {
            for (String e : List.of(
                    "{\"method\":\"Registry.register\",\"params\":[{\"dbg\":\"f\",\"sr\":\"fz\",\"sr_type\":\"localfile\"}],\"id\":1}",
                    "{\"method\":\"Registry.unregister\",\"params\":[{\"dbg\":\"f\",\"sr\":\"fz\"}],\"id\":2}",
                    "{\"method\":\"Registry.list\",\"params\":[{\"dbg\":\"f\"}],\"id\":3}",
                    "{\"method\":\"Registry.types\",\"params\":[{\"dbg\":\"f\"}],\"id\":4}",
                    "{\"method\":\"Mux.diagnostics\",\"params\":[{\"dbg\":\"f\"}],\"id\":5}")) {
                out.add(e);
            }
        }
        return out;
    }

    static final String[] JUNK = {"null", "1", "-1", "0", "1e400", "1.5", "\"\"", "[]", "{}", "[[]]", "true", "\"x\"",
        "{\"a\":[1,{\"b\":null}]}", "9223372036854775808", "-9223372036854775809", "\"\\u0000\"", "\"\\ud800\"",
        "\"../../etc/passwd\"", "\"\u202e\u00e9\ud83d\udcbe\"", "[null]", "{\"\":\"\"}"};
    static final String[] IDS = {"null", "\"s\"", "{}", "[]", "-1", "1.5", "1e400", "true", "99999999999999999999999"};
    static final String[] METHODS = {"", "x", "SR", "SR.", ".stat", "SR.stat.x", "sr.stat", "SR.STAT", "__proto__",
        "Registry.register2", "Mux", "Mux.diagnostics.x", "../SR.stat", "SR.stat\u0000", "VDI.\u00e9", "Query.query "};

    static String nested(int depth, Random r) {
        boolean arr = r.nextBoolean();
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < depth; i++) {
            b.append(arr ? "[" : "{\"a\":");
        }
        b.append("1");
        for (int i = 0; i < depth; i++) {
            b.append(arr ? "]" : "}");
        }
        return b.toString();
    }

    static String replaceAValue(String s, Random r, String with) {
        if (s.isEmpty()) {
            return with;
        }
        int colon = s.indexOf(':', r.nextInt(s.length()));
        if (colon < 0) {
            return s;
        }
        int end = colon + 1;
        if (end < s.length() && s.charAt(end) == '"') {
            end++;
            while (end < s.length() && s.charAt(end) != '"') {
                end += s.charAt(end) == '\\' ? 2 : 1;
            }
            end = Math.min(s.length(), end + 1);
        } else {
            while (end < s.length() && ",}]".indexOf(s.charAt(end)) < 0) {
                end++;
            }
        }
        return s.substring(0, colon + 1) + with + s.substring(end);
    }

    /** One mutation of a valid request; {@code kind} counts what was done. */
    static String mutate(String s, Random r, Map<String, Integer> kind) {
        if (s.isEmpty()) {
            kind.merge("empty", 1, Integer::sum);
            return s;
        }
        int k = r.nextInt(15);
        String name;
        String out;
        switch (k) {
            case 0 -> { name = "truncation"; out = s.substring(0, r.nextInt(s.length())); }
            case 1 -> {
                name = "byte-flip";
                int at = r.nextInt(s.length());
                out = s.substring(0, at) + (char) (32 + r.nextInt(95)) + s.substring(at + 1);
            }
            case 2 -> { name = "type-swap"; out = replaceAValue(s, r, JUNK[r.nextInt(JUNK.length)]); }
            case 3 -> {
                name = "huge-string";
                int n = r.nextInt(10) == 0 ? 1 << 20 : 4096 + r.nextInt(64 << 10);
                out = replaceAValue(s, r, "\"" + "A\u00e9/..".repeat(n / 5) + "\"");
            }
            case 4 -> { name = "deep-nesting"; out = replaceAValue(s, r, nested(r.nextBoolean() ? 200 : 5000, r)); }
            case 5 -> { name = "wrong-id"; out = s.replaceFirst("\"id\":[^,}]*", "\"id\":" + IDS[r.nextInt(IDS.length)]); }
            case 6 -> {
                name = "unicode";
                String[] u = {"\\u0000", "\\ud800", "\\udfff", "\u202e", "\ud83d\udcbe", "\u00e9\u0301", "\\uffff", "\ufeff"};
                out = replaceAValue(s, r, "\"" + u[r.nextInt(u.length)] + "x" + u[r.nextInt(u.length)] + "\"");
            }
            case 7 -> {
                name = "duplicate-keys";
                out = r.nextBoolean() ? s.replaceFirst("\\{\"method\":", "{\"method\":\"VDI.destroy\",\"method\":")
                        : s.replaceFirst("\"params\":\\[\\{", "\"params\":[{\"sr\":\"a\",\"dbg\":1,");
            }
            case 8 -> {
                name = "unknown-method";
                out = s.replaceFirst("\"method\":\"[^\"]*\"", java.util.regex.Matcher.quoteReplacement("\"method\":" + q(METHODS[r.nextInt(METHODS.length)])));
            }
            case 9 -> { name = "params-shape"; out = s.replaceFirst("\"params\":\\[", java.util.regex.Matcher.quoteReplacement("\"params\":" + JUNK[r.nextInt(JUNK.length)] + ",\"p\":[")); }
            case 10 -> { name = "missing-field"; out = s.replaceFirst("\"[a-z_]+\":(\"[^\"]*\"|[^,}\\]]*),?", ""); }
            case 11 -> { name = "junk-document"; out = JUNK[r.nextInt(JUNK.length)]; }
            case 12 -> { name = "positional-params"; out = s.replaceFirst("\"params\":\\[\\{.*\\}\\]", "\"params\":[\"a\",1,null]"); }
            case 13 -> { name = "two-mutations"; out = mutate(mutate(s, r, new TreeMap<>()), r, new TreeMap<>()); }
            default -> { name = "unchanged"; out = s; }
        }
        kind.merge(name, 1, Integer::sum);
        return out;
    }

    @Test
    @Order(1)
    void mutatedRequestsAtTheMuxAndAtBackendQueuesGetOnlyWellFormedReplies() throws Exception {
        Random random = new Random(SEED);
        List<String> muxSeeds = new ArrayList<>(seeds(v1Sr, true));
        muxSeeds.addAll(seeds(v3Sr, false));
        List<String> v1Seeds = seeds(v1Sr, false);
        List<String> v3Seeds = seeds(v3Sr, false);
        Map<String, Integer> kinds = new TreeMap<>();
        Map<String, Integer> errorsByKind = new TreeMap<>();
        Map<String, Integer> byQueue = new TreeMap<>();
        int results = 0;
        int errors = 0;
        long t0 = System.nanoTime();
        List<String[]> window = new ArrayList<>();
        List<CompletableFuture<String>> pending = new ArrayList<>();
        for (int i = 0; i < REQUESTS; i++) {
            int target = i % 4; // half at the mux, a quarter at each backend queue
            String queue = target < 2 ? PREFIX : target == 2 ? PREFIX + ".localfile" : PREFIX + ".simplefile";
            List<String> s = target < 2 ? muxSeeds : target == 2 ? v1Seeds : v3Seeds;
            String request = mutate(s.get(random.nextInt(s.size())), random, kinds);
            byQueue.merge(queue, 1, Integer::sum);
            window.add(new String[] {queue, request});
            pending.add(client.callAsync(queue, request, T));
            if (pending.size() == WINDOW || i == REQUESTS - 1) {
                for (int j = 0; j < pending.size(); j++) {
                    String req = window.get(j)[1];
                    String reply;
                    try {
                        reply = Soon.get(pending.get(j), T.plus(Soon.timeout()));
                    } catch (Exception e) {
                        throw new AssertionError("no reply on " + window.get(j)[0] + " to " + cut(req) + "\n"
                                + cut(daemon.output()), e);
                    }
                    StorageError e = checkReply(req, reply);
                    if (e == null) {
                        results++;
                    } else {
                        errors++;
                        errorsByKind.merge(e.getClass().getSimpleName(), 1, Integer::sum);
                    }
                }
                pending.clear();
                window.clear();
                assertTrue(daemon.process.isAlive(), () -> "daemon died after " + REQUESTS + " requests\n" + daemon.output());
            }
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        System.out.printf("bad-input: %d requests in %.1f s (%.0f/s), %d results, %d errors; queues %s; "
                + "mutations %s; errors %s%n", REQUESTS, secs, REQUESTS / secs, results, errors, byQueue, kinds,
                errorsByKind);
        assertEquals(REQUESTS, results + errors);
        assertTrue(errors > REQUESTS / 2, "most mutations are invalid (" + errors + ")");
        assertTrue(results > 0, "some mutations stay valid calls");
        assertTrue(daemon.process.isAlive(), daemon::output);
    }

    static final List<String> HOSTILE_NAMES = List.of("../x", "/bin/sh", "a/b", "..", ".", "x\u0000", "x\u0000y",
            "\u2025/x", "\uff0e\uff0e/x", "\u2024\u2024/evil", "localfile/../../x", "..\\x", "%2e%2e/x", "../../evil",
            "../evil", "../conf/evil", "../../bin:sh", "file:../../evil", "~/x", "$(touch x)", "`sh`", "x;sh", "",
            " ", "localfile ", "LOCALFILE/..", "simplefile/../evilfile/../../canary", "\u202elocalfile");

    @Test
    @Order(2)
    void hostileSrTypesArePlainlyRefused() throws Exception {
        for (String type : HOSTILE_NAMES) {
            String req = "{\"method\":\"Registry.register\",\"params\":[{\"dbg\":\"t\",\"sr\":\"trav\",\"sr_type\":"
                    + q(type) + "}],\"id\":1}";
            String reply = client.call(PREFIX, req, T);
            StorageError e = checkReply(req, reply);
            assertEquals(new StorageError.BackendError("SR_UNKNOWN_DRIVER", List.of(type)), e,
                    () -> q(type) + " -> " + reply);
        }
        assertFalse(ext("Registry.list", "{\"dbg\":\"t\"}").get("result").has("trav"), "nothing registered");
        assertFalse(Files.exists(marker), this::ranCanaries);
    }

    static final List<String> HOSTILE_LOCATIONS = List.of("../../etc/passwd", "../../../../../../etc/passwd",
            "/etc/passwd", "..", ".", "/", "sr", "", "../x", "../../x", "../../canary", "../../../conf/sm/LocalfileSR",
            "a/b", "x\u0000", "\u2025/x", "\uff0e\uff0e/\uff0e\uff0e/etc/passwd", "%2e%2e%2fetc%2fpasswd", "sr.json",
            ".lock", "../" + "a".repeat(300), "$(sh)", "-rf", "--help");

    @Test
    @Order(3)
    void hostileVdiLocationsGetClearErrorsOnBothBackends() throws Exception {
        int checked = 0;
        List<String[]> sent = new ArrayList<>();
        for (String sr : List.of(v1Sr, v3Sr)) {
            for (String queue : List.of(PREFIX, PREFIX + "." + (sr.equals(v1Sr) ? "localfile" : "simplefile"))) {
                for (String vdi : HOSTILE_LOCATIONS) {
                    String args = "\"dbg\":\"t\",\"sr\":\"" + sr + "\",\"vdi\":" + q(vdi);
                    for (String call : List.of(
                            "{\"method\":\"VDI.stat\",\"params\":[{" + args + "}],\"id\":1}",
                            "{\"method\":\"VDI.attach3\",\"params\":[{" + args + ",\"dp\":\"d\",\"vm\":\"0\",\"read_write\":true}],\"id\":2}",
                            "{\"method\":\"VDI.activate3\",\"params\":[{" + args + ",\"dp\":\"d\",\"vm\":\"0\"}],\"id\":3}",
                            "{\"method\":\"VDI.destroy\",\"params\":[{" + args + "}],\"id\":6}")) {
                        sent.add(new String[] {queue, call});
                    }
                }
            }
        }
        // a window at a time, as the fuzz above: all 368 at once would queue each call's time behind the
        // scripts of all the others, and the last ones' replies behind the whole batch
        for (int from = 0; from < sent.size(); from += WINDOW) {
            List<String[]> window = sent.subList(from, Math.min(sent.size(), from + WINDOW));
            List<CompletableFuture<String>> replies = new ArrayList<>();
            window.forEach(c -> replies.add(client.callAsync(c[0], c[1], T)));
            for (int i = 0; i < window.size(); i++) {
                String call = window.get(i)[1];
                String reply = Soon.get(replies.get(i), T.plus(Soon.timeout()));
                StorageError e = checkReply(call, reply);
                assertTrue(e != null, () -> "a hostile location must be refused on " + "the queue: " + cut(call) + " -> " + cut(reply));
                checked++;
            }
        }
        System.out.println("hostile VDI locations: " + checked + " calls, all refused");
        assertFalse(Files.exists(marker), this::ranCanaries);
    }

    @Test
    @Order(4)
    void hostileDatapathSchemesFromAPluginAreRefusedWithoutExec() throws Exception {
        String sr = newSr("evilfile", "path");
        var vdi = mux.vdi().create("it", sr, org.xenstorage.idl.types.VdiInfo.defaults("", "evil").withSizes(1 << 20, 0));
        String args = "\"dbg\":\"t\",\"sr\":\"" + sr + "\",\"vdi\":" + q(vdi.vdi()) + ",\"dp\":\"evil-dp\",\"vm\":\"0\"";
        for (String queue : List.of(PREFIX, PREFIX + ".evilfile")) {
            String call = "{\"method\":\"VDI.attach3\",\"params\":[{" + args + ",\"read_write\":true}],\"id\":1}";
            String reply = client.call(queue, call, T);
            StorageError e = checkReply(call, reply);
            assertTrue(e != null, () -> "no datapath plugin serves these URIs: " + reply);
            String act = "{\"method\":\"VDI.activate3\",\"params\":[{" + args + "}],\"id\":2}";
            assertTrue(checkReply(act, client.call(queue, act, T)) != null);
        }
        assertFalse(Files.exists(marker), this::ranCanaries);
    }

    String ranCanaries() {
        try {
            return "a canary outside the configured directories RAN: " + Files.readString(marker);
        } catch (Exception e) {
            return String.valueOf(e);
        }
    }

    @Test
    @Order(5)
    void afterwardsTheDaemonIsAliveAndOrdinaryCallsWork() throws Exception {
        assertTrue(daemon.process.isAlive(), daemon::output);
        assertEquals("mux", mux.query().query("it").driver());
        ArrayNode types = (ArrayNode) ext("Registry.types", "{\"dbg\":\"it\"}").get("result");
        assertTrue(types.toString().contains("\"localfile\"") && types.toString().contains("\"simplefile\""), types::toString);
        for (String[] t : new String[][] {{"localfile", "location"}, {"simplefile", "path"}}) {
            String sr = UUID.randomUUID().toString();
            Path d = dir.resolve("srs").resolve(sr);
            Files.createDirectories(d);
            EmbeddedModeIT.register(client, sr, t[0]);
            EmbeddedModeIT.Made made = EmbeddedModeIT.exercise(mux, sr, Map.of(t[1], d.toString()));
            assertTrue(made.file().startsWith(d), made.file().toString());
            assertTrue(mux.sr().scan("it", sr).stream().anyMatch(v -> v.vdi().equals(made.vdi().vdi())));
        }
        assertFalse(Files.exists(marker), this::ranCanaries);
        assertTrue(canaries.size() > 100, "canaries planted: " + canaries.size());
    }
}
