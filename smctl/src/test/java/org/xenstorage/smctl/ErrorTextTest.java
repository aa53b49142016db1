package org.xenstorage.smctl;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.types.DpState;
import org.xenstorage.idl.wire.Json;

/** One line per SMAPIv2 error, from the wire form, so unknown tags still show by name. */
class ErrorTextTest {
    @Test
    void tagThenArguments() throws Exception {
        assertEquals("Sr_not_attached: sr1", ErrorText.of(new StorageError.SrNotAttached("sr1")));
        assertEquals("Does_not_exist: task 7", ErrorText.of(new StorageError.DoesNotExist("task", "7")));
        assertEquals("Backend_error: SR_BACKEND_FAILURE_44 [\"\",\"no space\",\"\"]",
                ErrorText.of(new StorageError.BackendError("SR_BACKEND_FAILURE_44", List.of("", "no space", ""))));
        assertEquals("Internal_error: boom", ErrorText.of(new StorageError.InternalError("boom")));
        assertEquals("Illegal_transition: Detached [\"Attached\",\"RO\"]",
                ErrorText.of(new StorageError.IllegalTransition(new DpState.Detached(),
                        new DpState.Attached(org.xenstorage.idl.types.RoRw.RO))));
        assertEquals("Backend_error_with_backtrace: SR_BACKEND_FAILURE [\"Volume_does_not_exist\",\"v\"]",
                ErrorText.of(new StorageError.BackendErrorWithBacktrace("SR_BACKEND_FAILURE",
                        List.of("{\"error\":\"x\",\"files\":[],\"lines\":[]}", "Volume_does_not_exist", "v"))));
        // a tag this build does not know keeps its name and argument
        assertEquals("Brand_new_error: x", ErrorText.of(Json.parse("[\"Brand_new_error\",\"x\"]")));
        assertEquals("Cancelled", ErrorText.of(Json.parse("[\"Cancelled\"]")));
        assertEquals("{\"odd\":1}", ErrorText.of(Json.parse("{\"odd\":1}")));
    }
}
