package org.xenstorage.smapiv1.catalogue;

import java.util.List;

/**
 * A XenAPI endpoint: the embedded catalogue in process, or the real xapi over its local socket.
 * Calls take the session first, as on the wire, and return the unwrapped {@code Value}.
 */
public interface XenApi {
    /**
     * @param params the call's parameters, session ref first (none for {@code session.login_*})
     * @throws XenApiFailure when the endpoint answers with a failure
     */
    Object call(String method, List<Object> params) throws XenApiFailure;
}
