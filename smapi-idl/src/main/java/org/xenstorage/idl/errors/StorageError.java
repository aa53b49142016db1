package org.xenstorage.idl.errors;

import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.xenstorage.idl.types.DpState;
import org.xenstorage.idl.types.SrHealth;
import org.xenstorage.idl.wire.DefaultVariant;
import org.xenstorage.idl.wire.Tag;

/**
 * {@code Storage_interface.Errors.error}: every failure a SMAPIv2 call can report. On the wire each case
 * is {@code ["Tag", arg]} (several arguments as a nested array); unknown tags decode to
 * {@link UnknownError}. Raise one with {@link StorageException}.
 */
public sealed interface StorageError {

    /** The constructor name on the wire. */
    default String tag() {
        return getClass().getAnnotation(Tag.class).value();
    }

    /** {@code Backend_error_with_backtrace}: A backend failure whose first parameter is a JSON backtrace (SMAPIv3 scripts). */
    @Tag("Backend_error_with_backtrace")
    record BackendErrorWithBacktrace(String code, List<String> params) implements StorageError {
        public BackendErrorWithBacktrace {
            Objects.requireNonNull(code, "code");
            params = List.copyOf(params);
        }
    }

    /** {@code Sr_not_attached}: The SR must be attached first. */
    @Tag("Sr_not_attached")
    record SrNotAttached(String sr) implements StorageError {
        public SrNotAttached {
            Objects.requireNonNull(sr, "sr");
        }
    }

    /** {@code Vdi_does_not_exist}: No such VDI. */
    @Tag("Vdi_does_not_exist")
    record VdiDoesNotExist(String vdi) implements StorageError {
        public VdiDoesNotExist {
            Objects.requireNonNull(vdi, "vdi");
        }
    }

    /** {@code Illegal_transition}: The datapath automaton refused a state change. */
    @Tag("Illegal_transition")
    record IllegalTransition(DpState from, DpState to) implements StorageError {
        public IllegalTransition {
            Objects.requireNonNull(from, "from");
            Objects.requireNonNull(to, "to");
        }
    }

    /** {@code Backend_error}: A backend failure: a XenAPI error code and its parameters. */
    @Tag("Backend_error")
    record BackendError(String code, List<String> params) implements StorageError {
        public BackendError {
            Objects.requireNonNull(code, "code");
            params = List.copyOf(params);
        }
    }

    /** {@code Does_not_exist}: An object lookup failed (kind is e.g. task, mirror, dp). */
    @Tag("Does_not_exist")
    record DoesNotExist(String kind, String id) implements StorageError {
        public DoesNotExist {
            Objects.requireNonNull(kind, "kind");
            Objects.requireNonNull(id, "id");
        }
    }

    /** {@code Cancelled}: The task was cancelled. */
    @Tag("Cancelled")
    record Cancelled(String task) implements StorageError {
        public Cancelled {
            Objects.requireNonNull(task, "task");
        }
    }

    /** {@code Redirect}: Retry on another host (xapi follows Some ip). */
    @Tag("Redirect")
    record Redirect(Optional<String> ip) implements StorageError {
        public Redirect {
            Objects.requireNonNull(ip, "ip");
        }
    }

    /** {@code Sr_attached}: The SR is already attached. */
    @Tag("Sr_attached")
    record SrAttached(String sr) implements StorageError {
        public SrAttached {
            Objects.requireNonNull(sr, "sr");
        }
    }

    /** {@code Sr_unhealthy}: The SR's health is not Healthy. */
    @Tag("Sr_unhealthy")
    record SrUnhealthy(String sr, SrHealth health) implements StorageError {
        public SrUnhealthy {
            Objects.requireNonNull(sr, "sr");
            Objects.requireNonNull(health, "health");
        }
    }

    /** {@code Unimplemented}: This backend does not support the call or feature. */
    @Tag("Unimplemented")
    record Unimplemented(String what) implements StorageError {
        public Unimplemented {
            Objects.requireNonNull(what, "what");
        }
    }

    /** {@code Activated_on_another_host}: The VDI is active on another host (its uuid). */
    @Tag("Activated_on_another_host")
    record ActivatedOnAnotherHost(String host) implements StorageError {
        public ActivatedOnAnotherHost {
            Objects.requireNonNull(host, "host");
        }
    }

    /** {@code Duplicated_key}: The sm_config key already exists. */
    @Tag("Duplicated_key")
    record DuplicatedKey(String key) implements StorageError {
        public DuplicatedKey {
            Objects.requireNonNull(key, "key");
        }
    }

    /** {@code No_storage_plugin_for_sr}: The mux has no plugin registered for the SR. */
    @Tag("No_storage_plugin_for_sr")
    record NoStoragePluginForSr(String sr) implements StorageError {
        public NoStoragePluginForSr {
            Objects.requireNonNull(sr, "sr");
        }
    }

    /** {@code Content_ids_do_not_match}: Storage migration: the content ids differ. */
    @Tag("Content_ids_do_not_match")
    record ContentIdsDoNotMatch(String first, String second) implements StorageError {
        public ContentIdsDoNotMatch {
            Objects.requireNonNull(first, "first");
            Objects.requireNonNull(second, "second");
        }
    }

    /** {@code Missing_configuration_parameter}: A device_config key is missing. */
    @Tag("Missing_configuration_parameter")
    record MissingConfigurationParameter(String key) implements StorageError {
        public MissingConfigurationParameter {
            Objects.requireNonNull(key, "key");
        }
    }

    /** {@code Migration_preparation_failure}: Storage migration: preparing the destination VDI failed. */
    @Tag("Migration_preparation_failure")
    record MigrationPreparationFailure(String message) implements StorageError {
        public MigrationPreparationFailure {
            Objects.requireNonNull(message, "message");
        }
    }

    /** {@code Migration_mirror_fd_failure}: Storage migration: passing file descriptors to tapdisk failed. */
    @Tag("Migration_mirror_fd_failure")
    record MigrationMirrorFdFailure(String message) implements StorageError {
        public MigrationMirrorFdFailure {
            Objects.requireNonNull(message, "message");
        }
    }

    /** {@code Migration_mirror_snapshot_failure}: Storage migration: the base snapshot failed. */
    @Tag("Migration_mirror_snapshot_failure")
    record MigrationMirrorSnapshotFailure(String message) implements StorageError {
        public MigrationMirrorSnapshotFailure {
            Objects.requireNonNull(message, "message");
        }
    }

    /** {@code Migration_mirror_copy_failure}: Storage migration: the base copy failed. */
    @Tag("Migration_mirror_copy_failure")
    record MigrationMirrorCopyFailure(String message) implements StorageError {
        public MigrationMirrorCopyFailure {
            Objects.requireNonNull(message, "message");
        }
    }

    /** {@code Migration_mirror_failure}: Storage migration: the mirror failed. */
    @Tag("Migration_mirror_failure")
    record MigrationMirrorFailure(String message) implements StorageError {
        public MigrationMirrorFailure {
            Objects.requireNonNull(message, "message");
        }
    }

    /** {@code Internal_error}: Any failure that is not a storage error. */
    @Tag("Internal_error")
    record InternalError(String message) implements StorageError {
        public InternalError {
            Objects.requireNonNull(message, "message");
        }
    }

    /** {@code Unknown_error}: What an unknown error tag decodes to. */
    @DefaultVariant
    @Tag("Unknown_error")
    record UnknownError() implements StorageError {
    }
}
