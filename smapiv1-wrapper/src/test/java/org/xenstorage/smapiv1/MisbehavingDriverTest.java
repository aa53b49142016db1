package org.xenstorage.smapiv1;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.xenstorage.exec.ProcessTree;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.rpc.StorageClient;
import org.xenstorage.idl.types.ProbeResult;
import org.xenstorage.testing.Soon;

/**
 * The exec error table (spec sections 3.4, 6.1, 6.2) against a real driver process that
 * misbehaves on purpose; after every failure the backend must still answer a good call.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MisbehavingDriverTest {
    private static final String QUEUE = "org.xen.xapi.storage.misbehave";
    /**
     * The driver timeout the hang test waits out: short, but long enough for a busy machine to start the
     * driver and get it into its hang first (the driver must have written its pid file and "partial").
     */
    private static final Duration HANG_TIMEOUT = Soon.timeout().dividedBy(10);
    @TempDir
    static Path tmp;
    Path smDir;
    Smapiv1Backend backend;
    StorageService v2;

    @BeforeAll
    void start() throws Exception {
        smDir = tmp.resolve("sm");
        TestDrivers.installResource(smDir, "MisbehaveSR", "MisbehaveSR");
        // no driver that should answer may be timed out because the machine is busy: Soon's timeout
        backend = start(tmp.resolve("state"), Soon.timeout());
        v2 = StorageClient.of(text -> backend.dispatch("misbehave", text));
    }

    private Smapiv1Backend start(Path stateDir, Duration driverTimeout) {
        return Smapiv1Backend.start(TestDrivers.config(smDir, stateDir, driverTimeout), null,
                Smapiv1Backend.Options.defaults().withMaxStdoutBytes(1 << 20));
    }

    @AfterAll
    void stop() {
        backend.close();
    }

    /** The backend still serves a well-behaved call. */
    @AfterEach
    void stillServing() {
        ProbeResult r = v2.sr().probe("t", QUEUE, Map.of("behave", "ok"), Map.of());
        assertEquals(new ProbeResult.Raw("<SRlist/>"), r);
    }

    private StorageError probeError(Map<String, String> deviceConfig) {
        return assertThrows(StorageException.class, () -> v2.sr().probe("t", QUEUE, deviceConfig, Map.of())).error();
    }

    private static StorageError.BackendError backend(StorageError e) {
        return assertInstanceOf(StorageError.BackendError.class, e);
    }

    @Test
    void driverInfoIsParsedAsXapiDoes() {
        var q = v2.query().query("t");
        // unknown names dropped, versions kept, sorted by name
        assertEquals(List.of("SR_PROBE/1", "VDI_ATTACH/1", "VDI_CREATE/1", "VDI_RESET_ON_BOOT/2"), q.features());
    }

    @Test
    void aHungDriverIsKilledWithItsWholeProcessTree() throws Exception {
        Path pidfile = tmp.resolve("hang.pid");
        StorageError.BackendError e;
        // a backend of its own, whose timeout the hang reaches (the shared one's is Soon's)
        try (Smapiv1Backend hanging = start(tmp.resolve("hang-state"), HANG_TIMEOUT)) {
            StorageService hv2 = StorageClient.of(text -> hanging.dispatch("misbehave", text));
            e = backend(assertThrows(StorageException.class, () -> hv2.sr().probe("t", QUEUE,
                    Map.of("behave", "hang", "pidfile", pidfile.toString()), Map.of())).error());
        }
        assertEquals("SR_BACKEND_FAILURE", e.code());
        assertTrue(e.params().get(0).startsWith("timed out: killed after"), e.params().toString());
        assertEquals("partial", e.params().get(1));
        // written before "partial", so complete
        long child = Long.parseLong(Files.readString(pidfile).trim());
        // the grandchild (sleep 600) died with the driver: gone once reaped, or a zombie if its new parent never reaps
        Soon.await("the grandchild gone", () -> ProcessHandle.of(child).map(ProcessTree::gone).orElse(true));
    }

    @Test
    void aNonZeroExitIsAFailureWhateverItPrinted() {
        assertEquals(new StorageError.BackendError("SR_BACKEND_FAILURE", List.of("non-zero exit", "partial out\n",
                "boom\n")), probeError(Map.of("behave", "exit")));
    }

    @Test
    void aSignalIsNamed() {
        assertEquals(new StorageError.BackendError("SR_BACKEND_FAILURE", List.of("received signal: SIGTERM", "",
                "dying\n")), probeError(Map.of("behave", "signal")));
    }

    @Test
    void nonXmlOutputCarriesTheParserMessageAndTheOutput() {
        StorageError.BackendError e = backend(probeError(Map.of("behave", "nonxml")));
        assertEquals("SR_BACKEND_FAILURE", e.code());
        assertFalse(e.params().get(0).isEmpty());
        assertEquals(List.of("this is not XML at all\n", ""), e.params().subList(1, 3));
    }

    @Test
    void hugeOutputIsCutAndRefused() {
        StorageError.BackendError e = backend(probeError(Map.of("behave", "huge")));
        assertEquals("SR_BACKEND_FAILURE", e.code());
        assertTrue(e.params().get(0).startsWith("output too large"), e.params().get(0));
        assertTrue(e.params().get(1).length() <= 4096);
    }

    @Test
    void anXmlBombIsRefusedBeforeAnyExpansion() {
        StorageError.BackendError e = backend(probeError(Map.of("behave", "bomb")));
        assertEquals("SR_BACKEND_FAILURE", e.code());
        assertTrue(e.params().get(0).contains("DOCTYPE"), e.params().get(0));
    }

    @Test
    void anExternalEntityIsNeverRead() throws Exception {
        Path secret = tmp.resolve("secret.txt");
        String token = "TOP-SECRET-" + UUID.randomUUID();
        Files.writeString(secret, token);
        StorageError.BackendError e = backend(probeError(Map.of("behave", "xxe", "secret", secret.toString())));
        assertEquals("SR_BACKEND_FAILURE", e.code());
        assertTrue(e.params().get(0).contains("DOCTYPE"), e.params().get(0));
        assertFalse(e.toString().contains(token));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"twoparams", "badshape", "extension"})
    void wrongShapesAreUnexpectedResponses(String behave) {
        assertEquals(new StorageError.BackendError("INTERNAL_ERROR", List.of("Unexpected response from SM plugin")),
                probeError(Map.of("behave", behave)));
    }

    @ParameterizedTest(name = "fault {0}")
    @CsvSource(delimiter = '|', value = {
        "39|SR_NOT_EMPTY|",
        "24|VDI_IN_USE|",
        "16|SR_DEVICE_IN_USE|",
        "144|VDI_MISSING|,",
        "43|SR_BACKEND_FAILURE_43|,The VDI already exists,STDERR",
        "1200|SR_BACKEND_FAILURE_1200|,,STDERR",
        "-1|SR_BACKEND_FAILURE_-1|,The VDI already exists,STDERR"})
    void faultsMapAsUpstream(int code, String expectedCode, String params) {
        String message = params != null && params.contains("already") ? "The VDI already exists" : "";
        List<String> expected = params == null ? List.of() : List.of(params.replace("STDERR", "driver stderr\n").split(",", -1));
        assertEquals(new StorageError.BackendError(expectedCode, expected),
                probeError(Map.of("behave", "fault", "code", Integer.toString(code), "message", message)));
    }

    @Test
    void aRequestTooLargeForArgvFailsBeforeExec() {
        StorageError.BackendError e = backend(probeError(Map.of("behave", "ok", "big", "x".repeat(200_000))));
        assertEquals("SR_BACKEND_FAILURE", e.code());
        assertTrue(e.params().get(0).startsWith("request too large for one argv string (E2BIG)"), e.params().get(0));
    }

    @Test
    void fault38WithoutAMappingIsUpstreamsInternalError() {
        assertEquals(new StorageError.InternalError("Smint.Not_implemented_in_backend"),
                probeError(Map.of("behave", "fault", "code", "38")));
    }

    @Test
    void vdiMissingNamesTheRefsOfTheCall() throws Exception {
        String sr = UUID.randomUUID().toString();
        StorageException e = assertThrows(StorageException.class,
                () -> v2.sr().attach("t", sr, Map.of("behave", "fault", "code", "144")));
        String srRef = (String) backend.catalogue().orElseThrow().call("SR.get_by_uuid",
                List.of(backend.catalogue().get().newInternalSession(), sr));
        assertEquals(new StorageError.BackendError("VDI_MISSING", List.of(srRef, "")), e.error());
    }
}
