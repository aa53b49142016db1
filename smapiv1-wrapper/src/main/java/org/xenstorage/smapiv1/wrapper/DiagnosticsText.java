package org.xenstorage.smapiv1.wrapper;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.wire.WireCodec;
import org.xenstorage.idl.automaton.VdiAutomaton;
import org.xenstorage.smapiv1.datapath.ErrorEntry;
import org.xenstorage.smapiv1.datapath.HostSnapshot;
import org.xenstorage.smapiv1.datapath.Holder;

/** The {@code DP.diagnostics} report (spec 2.8): attached SRs, held VDIs, their datapaths, then the errors. */
final class DiagnosticsText {
    private static final DateTimeFormatter TIME =
            DateTimeFormatter.ofPattern("yyyyMMdd'T'HH:mm:ss'Z'").withZone(ZoneOffset.UTC);
    private static final String STEP = "    ";

    private DiagnosticsText() {
    }

    static String render(HostSnapshot s) {
        StringBuilder b = new StringBuilder("The following SRs are attached:\n");
        s.srs().forEach((sr, vdis) -> {
            b.append(STEP).append("SR ").append(sr).append('\n');
            vdis.forEach((vdi, rec) -> {
                b.append(STEP.repeat(2)).append("VDI ").append(vdi).append('\n');
                b.append(STEP.repeat(3)).append(VdiAutomaton.text(rec.superstate())).append(" (device=")
                        .append(rec.attachInfo().map(a -> "Some " + WireCodec.toJson(a, Backend.class)).orElse("None"))
                        .append(")\n");
                for (Holder h : rec.holders()) {
                    b.append(STEP.repeat(4)).append("DP: ").append(h.dp()).append(": ")
                            .append(VdiAutomaton.text(h.state()))
                            .append(rec.leaked().contains(h.dp()) ? "  ** LEAKED" : "").append('\n');
                }
            });
        });
        b.append('\n');
        List<ErrorEntry> errors = s.errors();
        if (errors.isEmpty()) {
            b.append("No errors have been logged.\n");
        } else {
            b.append("The following errors have been logged:\n");
            for (ErrorEntry e : errors) {
                b.append(e.dp()).append(" @ ").append(TIME.format(Instant.ofEpochMilli((long) (e.time() * 1000))))
                        .append("; sr:").append(e.sr()).append(" vdi:").append(e.vdi()).append(" error:")
                        .append(e.error()).append('\n');
            }
        }
        return b.toString();
    }
}
