package org.xenstorage.idl.rpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.xenstorage.idl.api.QueryApi;
import org.xenstorage.idl.api.SrApi;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.api.VdiApi;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.BlockDeviceInfo;
import org.xenstorage.idl.types.Implementation;
import org.xenstorage.idl.types.NbdInfo;
import org.xenstorage.idl.types.QueryResult;
import org.xenstorage.idl.types.SmapiVersion;
import org.xenstorage.idl.types.XenDiskInfo;

/** The worked examples of the SMAPIv2 spec (section 6), byte for byte where the OCaml side's order is known. */
class SpecExamplesTest {
    private static final QueryResult EXAMPLE_QUERY = new QueryResult("example", "example", "Example plugin", "Example",
            "(C) 2024", "1.0", "5.0", List.of("SR_ATTACH", "VDI_CREATE", "VDI_ATTACH"),
            Map.of("file-uri", "Directory to store SR"), List.of(), List.of("vhd", "qcow2"), SmapiVersion.SMAPIv3);

    /** A transport that answers with a fixed reply and remembers the request. */
    private static RpcTransport replying(String reply, AtomicReference<String> sent) {
        return request -> {
            sent.set(request);
            return CompletableFuture.completedFuture(reply);
        };
    }

    private static String idOf(String request) {
        return request.substring(request.lastIndexOf("\"id\":") + 5, request.length() - 1);
    }

    @Test
    void queryQueryRequestAndResponse() {
        AtomicReference<String> sent = new AtomicReference<>();
        String reply = "{\"result\":{\"smapi_version\":\"SMAPIv3\",\"supported_image_formats\":[\"vhd\",\"qcow2\"],"
                + "\"required_cluster_stack\":[],\"configuration\":{\"file-uri\":\"Directory to store SR\"},"
                + "\"features\":[\"SR_ATTACH\",\"VDI_CREATE\",\"VDI_ATTACH\"],\"required_api_version\":\"5.0\","
                + "\"version\":\"1.0\",\"copyright\":\"(C) 2024\",\"vendor\":\"Example\",\"description\":\"Example plugin\","
                + "\"name\":\"example\",\"driver\":\"example\"},\"error\":null,\"id\":0}";
        QueryApi q = StorageClient.proxy(QueryApi.class, replying(reply, sent));
        assertEquals(EXAMPLE_QUERY, q.query("q1"));
        assertEquals("{\"method\":\"Query.query\",\"params\":[{\"dbg\":\"q1\"}],\"id\":" + idOf(sent.get()) + "}", sent.get());

        // and the server side writes the very same bytes (members reversed), echoing the id
        StorageDispatcher d = new StorageDispatcher(StorageService.of(new QueryApi() {
            @Override
            public QueryResult query(String dbg) {
                return EXAMPLE_QUERY;
            }

            @Override
            public String diagnostics(String dbg) {
                return "";
            }
        }));
        assertEquals(reply, d.dispatch("{\"method\":\"Query.query\",\"params\":[{\"dbg\":\"q1\"}],\"id\":0}").join());
    }

    @Test
    void attach2RequestIsReversedAndBackendDecodes() {
        AtomicReference<String> sent = new AtomicReference<>();
        String reply = "{\"result\":{\"implementations\":[[\"XenDisk\",{\"backend_type\":\"vbd3\",\"extra\":{},"
                + "\"params\":\"vhd:/srv/sr1/disk-42.vhd\"}],[\"BlockDevice\",{\"path\":\"/dev/sm/backend/disk-42\"}],"
                + "[\"Nbd\",{\"uri\":\"nbd:unix:/var/run/blktap-control/nbd1.0:exportname=disk-42\"}]]},\"error\":null,\"id\":0}";
        @SuppressWarnings("deprecation")
        Backend b = StorageClient.proxy(VdiApi.class, replying(reply, sent))
                .attach2("attach-test", "vbd/1/xvda", "3c2f0a8e-1b2d-4f6a-9a1e-0d9d2d0c1a11", "disk-42", true);
        assertEquals("{\"method\":\"VDI.attach2\",\"params\":[{\"read_write\":true,\"vdi\":\"disk-42\","
                + "\"sr\":\"3c2f0a8e-1b2d-4f6a-9a1e-0d9d2d0c1a11\",\"dp\":\"vbd/1/xvda\",\"dbg\":\"attach-test\"}],\"id\":"
                + idOf(sent.get()) + "}", sent.get());
        assertEquals(new Backend(List.of(
                new Implementation.XenDisk(new XenDiskInfo("vhd:/srv/sr1/disk-42.vhd", Map.of(), "vbd3")),
                new Implementation.BlockDevice(new BlockDeviceInfo("/dev/sm/backend/disk-42")),
                new Implementation.Nbd(new NbdInfo("nbd:unix:/var/run/blktap-control/nbd1.0:exportname=disk-42")))), b);
        assertEquals("disk-42", b.first(Implementation.Nbd.class).orElseThrow().value().export().exportName());
    }

    @Test
    void errorRepliesBecomeStorageExceptions() {
        AtomicReference<String> sent = new AtomicReference<>();
        SrApi sr = StorageClient.proxy(SrApi.class, replying(
                "{\"result\":null,\"error\":[\"Backend_error\",[\"SR_BACKEND_FAILURE_46\",[\"\",\"The VDI is not available\",\"\"]]],\"id\":0}",
                sent));
        StorageException e = assertThrows(StorageException.class, () -> sr.detach("d", "sr-x"));
        assertEquals(new StorageError.BackendError("SR_BACKEND_FAILURE_46", List.of("", "The VDI is not available", "")),
                e.error());
        VdiApi vdi = StorageClient.proxy(VdiApi.class, replying(
                "{\"result\":null,\"error\":[\"Sr_not_attached\",\"sr-x\"],\"id\":0}", sent));
        assertEquals(new StorageError.SrNotAttached("sr-x"),
                assertThrows(StorageException.class, () -> vdi.stat("d", "sr-x", "disk-42")).error());
    }

    @Test
    void missingNamedParameterIsAMarshalError() {
        StorageDispatcher d = new StorageDispatcher(StorageService.of(new Object()));
        String reply = d.dispatch("{\"method\":\"VDI.stat\",\"params\":[{\"vdi\":\"disk-42\",\"dbg\":\"d\"}],\"id\":4}").join();
        assertEquals("{\"result\":null,\"error\":[\"Internal_error\",\"Idl.MarshalError(\\\"Expecting named argument 'sr'\\\")\"],\"id\":4}",
                reply);
    }

    @Test
    void unservedModuleAnswersUnimplemented() {
        StorageDispatcher d = new StorageDispatcher(StorageService.of(new Object()));
        String reply = d.dispatch("{\"method\":\"VDI.stat\",\"params\":[{\"vdi\":\"v\",\"sr\":\"s\",\"dbg\":\"d\"}],\"id\":\"x\"}").join();
        assertEquals("{\"result\":null,\"error\":[\"Unimplemented\",\"VDI.stat\"],\"id\":\"x\"}", reply);
    }

    @Test
    void optionalTimeoutIsOmittedOrBare() {
        MethodDescriptor get = MethodTable.byWireName("UPDATES.get").orElseThrow();
        String withTimeout = StorageClient.encodeRequest(get, new Object[] {"u", "", Optional.of(30)});
        assertInstanceOf(String.class, withTimeout);
        assertEquals("{\"method\":\"UPDATES.get\",\"params\":[{\"timeout\":30,\"from\":\"\",\"dbg\":\"u\"}],\"id\":"
                + idOf(withTimeout) + "}", withTimeout);
        String without = StorageClient.encodeRequest(get, new Object[] {"u", "", Optional.empty()});
        assertEquals("{\"method\":\"UPDATES.get\",\"params\":[{\"from\":\"\",\"dbg\":\"u\"}],\"id\":" + idOf(without) + "}",
                without);
    }
}
