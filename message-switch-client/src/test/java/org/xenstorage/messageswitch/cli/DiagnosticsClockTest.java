package org.xenstorage.messageswitch.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.xenstorage.messageswitch.protocol.Diagnostics;

/**
 * What {@code message-cli diagnostics} says about the switch's clock (issue 14.5): upstream's switch reports
 * {@code start_time} 0 and {@code current_time} as its uptime in ns, which read as dates gave 1970; ours
 * reports epoch ns. Pure formatting, so no switch is needed.
 */
class DiagnosticsClockTest {

    @Test
    void upstreamsSwitchIsShownAsAnUptimeWithWhatTheFieldsMean() {
        Diagnostics upstream = new Diagnostics(0, 3_723_000_000_000L, Map.of(), Map.of());
        assertEquals("""
                Switch up for 1 h 2 min 3 s
                  (start_time 0, current_time 3723000000000: nanoseconds since the switch started, as upstream's message-switch
                   reports them; it gives no wall-clock time, so ages below are relative to current_time)
                """, MessageCli.DiagnosticsCmd.clockLines(upstream));
    }

    @Test
    void oursIsShownWithItsStartDateAndWhatTheFieldsMean() {
        long start = 1_700_000_000_000_000_000L;
        Diagnostics ours = new Diagnostics(start, start + 90_061_000_000_000L, Map.of(), Map.of());
        assertEquals("""
                Switch up for 1 d 1 h 1 min 1 s, since 2023-11-14T22:13:20Z; now 2023-11-15T23:14:21Z
                  (start_time 1700000000000000000, current_time 1700090061000000000: nanoseconds since the Unix epoch, as this project's switch reports them)
                """, MessageCli.DiagnosticsCmd.clockLines(ours));
    }

    @Test
    void aClockRunningBackwardsIsReportedRaw() {
        assertEquals("Switch clock: start_time 10, current_time 5 (current_time before start_time: uptime unknown)\n",
                MessageCli.DiagnosticsCmd.clockLines(new Diagnostics(10, 5, Map.of(), Map.of())));
        assertEquals("Switch up for 250 ms\n", MessageCli.DiagnosticsCmd.clockLines(
                new Diagnostics(0, 250_000_000L, Map.of(), Map.of())).lines().findFirst().orElseThrow() + "\n");
    }
}
