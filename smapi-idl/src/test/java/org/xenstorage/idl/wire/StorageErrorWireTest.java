package org.xenstorage.idl.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.DpState;
import org.xenstorage.idl.types.RoRw;
import org.xenstorage.idl.types.SrHealth;

/** Every constructor of {@code Storage_interface.Errors.error} and its exact wire text, both ways. */
class StorageErrorWireTest {
    private static final Map<StorageError, String> CASES = new LinkedHashMap<>();

    static {
        CASES.put(new StorageError.BackendErrorWithBacktrace("SCRIPT_FAILED", List.of("{\"error\":\"bt\"}", "p1")),
                "[\"Backend_error_with_backtrace\",[\"SCRIPT_FAILED\",[\"{\\\"error\\\":\\\"bt\\\"}\",\"p1\"]]]");
        CASES.put(new StorageError.SrNotAttached("sr-x"), "[\"Sr_not_attached\",\"sr-x\"]");
        CASES.put(new StorageError.VdiDoesNotExist("vdi-1"), "[\"Vdi_does_not_exist\",\"vdi-1\"]");
        CASES.put(new StorageError.IllegalTransition(new DpState.Attached(RoRw.RO), DpState.DETACHED),
                "[\"Illegal_transition\",[[\"Attached\",\"RO\"],\"Detached\"]]");
        CASES.put(new StorageError.BackendError("SR_BACKEND_FAILURE_46", List.of("", "The VDI is not available", "")),
                "[\"Backend_error\",[\"SR_BACKEND_FAILURE_46\",[\"\",\"The VDI is not available\",\"\"]]]");
        CASES.put(new StorageError.DoesNotExist("task", "t-1"), "[\"Does_not_exist\",[\"task\",\"t-1\"]]");
        CASES.put(new StorageError.Cancelled("t-1"), "[\"Cancelled\",\"t-1\"]");
        CASES.put(new StorageError.Redirect(Optional.of("10.0.0.2")), "[\"Redirect\",[\"10.0.0.2\"]]");
        CASES.put(new StorageError.Redirect(Optional.empty()), "[\"Redirect\",[]]");
        CASES.put(new StorageError.SrAttached("sr-x"), "[\"Sr_attached\",\"sr-x\"]");
        CASES.put(new StorageError.SrUnhealthy("sr-x", SrHealth.Unreachable), "[\"Sr_unhealthy\",[\"sr-x\",\"Unreachable\"]]");
        CASES.put(new StorageError.Unimplemented("SR.probe"), "[\"Unimplemented\",\"SR.probe\"]");
        CASES.put(new StorageError.ActivatedOnAnotherHost("host-uuid"), "[\"Activated_on_another_host\",\"host-uuid\"]");
        CASES.put(new StorageError.DuplicatedKey("k"), "[\"Duplicated_key\",\"k\"]");
        CASES.put(new StorageError.NoStoragePluginForSr("sr-x"), "[\"No_storage_plugin_for_sr\",\"sr-x\"]");
        CASES.put(new StorageError.ContentIdsDoNotMatch("a", "b"), "[\"Content_ids_do_not_match\",[\"a\",\"b\"]]");
        CASES.put(new StorageError.MissingConfigurationParameter("uri"), "[\"Missing_configuration_parameter\",\"uri\"]");
        CASES.put(new StorageError.MigrationPreparationFailure("m"), "[\"Migration_preparation_failure\",\"m\"]");
        CASES.put(new StorageError.MigrationMirrorFdFailure("m"), "[\"Migration_mirror_fd_failure\",\"m\"]");
        CASES.put(new StorageError.MigrationMirrorSnapshotFailure("m"), "[\"Migration_mirror_snapshot_failure\",\"m\"]");
        CASES.put(new StorageError.MigrationMirrorCopyFailure("m"), "[\"Migration_mirror_copy_failure\",\"m\"]");
        CASES.put(new StorageError.MigrationMirrorFailure("m"), "[\"Migration_mirror_failure\",\"m\"]");
        CASES.put(new StorageError.InternalError("Failure(\"boom\")"), "[\"Internal_error\",\"Failure(\\\"boom\\\")\"]");
        CASES.put(new StorageError.UnknownError(), "\"Unknown_error\"");
    }

    @Test
    void everyVariantIsCovered() {
        Set<Class<?>> covered = CASES.keySet().stream().map(Object::getClass).collect(Collectors.toSet());
        assertEquals(Set.copyOf(Arrays.asList(StorageError.class.getPermittedSubclasses())), covered);
        assertEquals(23, StorageError.class.getPermittedSubclasses().length);
    }

    @Test
    void encodesExactly() {
        CASES.forEach((error, wire) -> assertEquals(wire, WireCodec.toJson(error, StorageError.class), error.toString()));
    }

    @Test
    void decodesExactly() {
        CASES.forEach((error, wire) -> assertEquals(error, WireCodec.fromJson(wire, StorageError.class), wire));
    }

    @Test
    void tagsMatchCaseInsensitivelyAndUnknownTagsFallBack() {
        assertEquals(new StorageError.SrNotAttached("s"), WireCodec.fromJson("[\"SR_NOT_ATTACHED\",\"s\"]", StorageError.class));
        assertEquals(new StorageError.UnknownError(), WireCodec.fromJson("[\"Some_future_error\",[1,2]]", StorageError.class));
        assertEquals(new StorageError.UnknownError(), WireCodec.fromJson("\"Brand_new\"", StorageError.class));
    }

    @Test
    void exceptionMessageIsTheUpstreamLogForm() {
        assertEquals("Storage_error ([\"Sr_not_attached\",\"sr-x\"])",
                new StorageException(new StorageError.SrNotAttached("sr-x")).getMessage());
        assertEquals("Sr_not_attached", new StorageError.SrNotAttached("sr-x").tag());
    }
}
