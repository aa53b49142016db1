package org.xenstorage.smapiv1.translation;

/**
 * Mints the XenAPI session each driver exec carries ({@code session_ref}) and destroys it afterwards,
 * as xapi's {@code Xapi_session.SM.with_session} does.
 */
public interface DriverSessions {
    /** A session allowed to change {@code srRef} (null: a call without an SR). */
    String open(String srRef);

    void close(String session);
}
