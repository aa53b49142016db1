package org.xenstorage.smapiv1.exec;

import java.util.List;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;

/** The SMAPIv1 error table (spec sections 3.4, 6.1, 6.2), as SMAPIv2 errors. */
public final class SmErrors {
    /** What fault 38 becomes where an operation has no mapping of its own (xapi's unwrapped OCaml exception). */
    public static final StorageError NOT_IMPLEMENTED_IN_BACKEND =
            new StorageError.InternalError("Smint.Not_implemented_in_backend");

    private SmErrors() {
    }

    /** {@code Backend_error(code, params)}. */
    public static StorageException backend(String code, String... params) {
        return new StorageException(new StorageError.BackendError(code, List.of(params)));
    }

    /** Whether the exception is a driver's fault 38 (Unimplemented). */
    public static boolean isNotImplemented(StorageException e) {
        return NOT_IMPLEMENTED_IN_BACKEND.equals(e.error());
    }

    /** Maps a driver fault. {@code srRef}/{@code vdiRef} are the refs of the call (for 144). */
    public static StorageException fault(int code, String faultString, String stderr, String srRef, String vdiRef) {
        return switch (code) {
            case 38 -> new StorageException(NOT_IMPLEMENTED_IN_BACKEND);
            case 39 -> backend("SR_NOT_EMPTY");
            case 24 -> backend("VDI_IN_USE");
            case 16 -> backend("SR_DEVICE_IN_USE");
            case 144 -> backend("VDI_MISSING", srRef == null ? "" : srRef, vdiRef == null ? "" : vdiRef);
            default -> backend("SR_BACKEND_FAILURE_" + code, "", faultString, stderr);
        };
    }

    /** A response that is neither one value nor a fault. */
    public static StorageException unexpectedResponse() {
        return backend("INTERNAL_ERROR", "Unexpected response from SM plugin");
    }

    /** A result that does not match what the command returns. */
    public static StorageException parseFailure(String pretty, String reason) {
        return backend("SR_BACKEND_FAILURE", "", "XML parse failure: " + pretty, reason);
    }
}
