package org.xenstorage.bench.idl;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Duration;
import java.lang.reflect.Proxy;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.xenstorage.bench.Harness;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.api.VdiApi;
import org.xenstorage.idl.rpc.MethodDescriptor;
import org.xenstorage.idl.rpc.MethodTable;
import org.xenstorage.idl.rpc.StorageClient;
import org.xenstorage.idl.rpc.StorageDispatcher;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.idl.wire.WireCodec;

/**
 * SMAPIv2 codec cost: a full server-side dispatch of {@code VDI.stat} (parse, decode arguments, call an
 * in-memory implementation, encode the vdi_info reply) against the baseline of Jackson merely parsing the
 * request and writing the reply text it produces. Prints a markdown table.
 */
public final class CodecBench {
    private CodecBench() {
    }

    public static void main(String[] args) throws Exception {
        Duration warmup = Duration.ofSeconds(args.length > 0 ? Integer.parseInt(args[0]) : 3);
        Duration each = Duration.ofSeconds(args.length > 1 ? Integer.parseInt(args[1]) : 2);
        VdiInfo info = VdiInfo.defaults("vdi-42", "a disk").withSizes(10L << 30, 4L << 20)
                .withSmConfig(Map.of("vdi_type", "vhd")).withUuid(Optional.of("0f0e0d0c-0000-4000-8000-000000000042"));
        StorageService service = StorageService.of(inMemoryVdiStat(info));
        StorageDispatcher dispatcher = new StorageDispatcher(service);
        MethodDescriptor stat = MethodTable.byWireName("VDI.stat").orElseThrow();
        String request = StorageClient.encodeRequest(stat, new Object[] {"bench", "sr-1", "vdi-42"});
        String reply = dispatcher.dispatch(request).join();
        ObjectMapper plain = new ObjectMapper();

        double baseline = Harness.opsPerSecond(() -> {
            try {
                JsonNode req = plain.readTree(request);
                Harness.consume(req);
                Harness.consume(plain.writeValueAsString(plain.readTree(reply)));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }, warmup, each, 5);
        double dispatch = Harness.opsPerSecond(() -> Harness.consume(dispatcher.dispatch(request).join()),
                warmup, each, 5);
        double encodeOnly = Harness.opsPerSecond(() -> Harness.consume(WireCodec.toJson(info, VdiInfo.class)),
                warmup, each, 5);

        System.out.println("### SMAPIv2 codec (VDI.stat round trip, in memory)");
        System.out.println();
        System.out.println("Machine: " + Harness.machine());
        System.out.println();
        System.out.println("| measurement | ops/s | ratio to baseline |");
        System.out.println("|---|---:|---:|");
        row("baseline: Jackson parse request + parse/write reply", baseline, baseline);
        row("StorageDispatcher.dispatch (decode, call, encode)", dispatch, baseline);
        row("encode one vdi_info to text", encodeOnly, baseline);
        System.out.println();
        System.out.println("No issue sets a target for this table; it shows where a call's time goes.");
    }

    private static void row(String name, double ops, double baseline) {
        System.out.printf(Locale.ROOT, "| %s | %,.0f | %.2f× |%n", name, ops, ops / baseline);
    }

    /** A VdiApi that answers VDI.stat from memory; every other VDI call is outside this benchmark. */
    private static VdiApi inMemoryVdiStat(VdiInfo info) {
        return (VdiApi) Proxy.newProxyInstance(VdiApi.class.getClassLoader(), new Class<?>[] {VdiApi.class},
                (self, method, args) -> {
                    if (method.getName().equals("stat")) {
                        return info;
                    }
                    throw new UnsupportedOperationException(method.getName());
                });
    }
}
