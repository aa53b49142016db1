package org.xenstorage.idl.errors;

import java.util.Objects;
import org.xenstorage.idl.wire.WireCodec;

/**
 * {@code Storage_error e}: the exception every SMAPIv2 implementation throws to answer a call with
 * an error, and that every client proxy throws when the reply is an error.
 */
public final class StorageException extends RuntimeException {
    private final StorageError error;

    public StorageException(StorageError error) {
        super(describe(error));
        this.error = Objects.requireNonNull(error);
    }

    public StorageException(StorageError error, Throwable cause) {
        super(describe(error), cause);
        this.error = Objects.requireNonNull(error);
    }

    public StorageError error() {
        return error;
    }

    /** Shorthand for an {@code Internal_error}. */
    public static StorageException internal(String message) {
        return new StorageException(new StorageError.InternalError(message));
    }

    /** Shorthand for an {@code Unimplemented}. */
    public static StorageException unimplemented(String what) {
        return new StorageException(new StorageError.Unimplemented(what));
    }

    /** As upstream logs it: {@code Storage_error (<compact JSON of the error>)}. */
    private static String describe(StorageError error) {
        return "Storage_error (" + WireCodec.toJson(error, StorageError.class) + ")";
    }
}
