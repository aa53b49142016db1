package org.xenstorage.smctl;

import java.time.Duration;
import java.util.Optional;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.AsyncResult;
import org.xenstorage.idl.types.TaskInfo;
import org.xenstorage.idl.types.TaskState;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.idl.wire.WireCodec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Long-running tasks: {@code vdi-copy} (a friendly {@code DATA.copy} that waits by default), {@code vdi-mirror}
 * and {@code vdi-mirror-finalize} (a live migration of a VDI to another daemon: the mirror task, then the
 * switch-over),
 * {@code task-wait} (follow any task), and the follow-and-report step shared with {@code data-copy --wait}:
 * progress on stderr, the result on stdout, then the throughput from the VDI's size and the time taken.
 */
final class TaskCommands {
    private TaskCommands() {
    }

    static void addTo(CommandCatalog catalog) {
        catalog.add(RegistryCommands.spec("vdi-copy",
                "Copy a VDI into SR --dest (SMAPIv2 DATA.copy) and follow the task to its end",
                RegistryCommands.required("--sr", "<sr>", "source SR"),
                RegistryCommands.required("--vdi", "<vdi>", "source VDI"),
                RegistryCommands.required("--dest", "<sr>", "destination SR"),
                text("--url", "<url>", "where the destination SR is served (DATA.copy 'url'; default \"\": this "
                        + "daemon); another host's daemon: http(s)://HOST:PORT/services/SM?session_id=TOKEN"),
                text("--url-file", "<file>", "read --url from the first line of this file (keeps the token off the "
                        + "command line, which other users can see)"),
                text("--vm", "<vm>", "the VM the copy is for (DATA.copy 'vm'; default \"\")"),
                flag("--verify-dest", "verify the destination's TLS certificate (against the daemon's "
                        + "remote-ca-bundle)"),
                flag("--no-wait", "print the task id and return at once")), TaskCommands::vdiCopy);
        catalog.add(RegistryCommands.spec("vdi-mirror",
                "Live-migrate a running VM's VDI to SR --dest on the daemon at --url: mirror it (DATA.MIRROR.start: "
                        + "receive_start3 there, the SR's plugin mirrors over NBD), follow the task until the mirror "
                        + "is ready; with --finalize, then switch over (see vdi-mirror-finalize)",
                RegistryCommands.required("--sr", "<sr>", "source SR (SMAPIv3, its datapath serving NBD: qdisk)"),
                RegistryCommands.required("--vdi", "<vdi>", "source VDI, attached and activated for the guest"),
                RegistryCommands.required("--dp", "<dp>", "the guest's datapath of the VDI"),
                RegistryCommands.required("--vm", "<vm>", "the guest (the VM the datapath was attached for)"),
                RegistryCommands.required("--url", "<url>",
                        "the destination daemon: http(s)://host:port/services/SM?session_id=<token>"),
                RegistryCommands.required("--dest", "<sr>", "destination SR on that daemon"),
                flag("--verify-dest", "verify the destination's TLS certificate"),
                flag("--finalize", "once ready, switch over at once: the guest must be paused (no more writes)")),
                TaskCommands::vdiMirror);
        catalog.add(RegistryCommands.spec("vdi-mirror-finalize",
                "Switch a ready live mirror over (the guest paused): DATA.MIRROR.pre_deactivate_hook (waits until "
                        + "nothing is held back, fails if the mirror failed), then VDI.deactivate of the guest's "
                        + "datapath, which ends the mirror; the daemon then finalizes the destination "
                        + "(receive_finalize3 at the url vdi-mirror gave it, as upstream's post_deactivate_hook)",
                RegistryCommands.required("--sr", "<sr>", "source SR"),
                RegistryCommands.required("--vdi", "<vdi>", "source VDI"),
                RegistryCommands.required("--dp", "<dp>", "the guest's datapath of the VDI"),
                RegistryCommands.required("--vm", "<vm>", "the guest"),
                text("--url", "<url>", "ignored: accepted so that vdi-mirror's command line can be reused"),
                text("--dest", "<sr>", "ignored, as --url"),
                flag("--verify-dest", "ignored, as --url")), TaskCommands::vdiMirrorFinalize);
        catalog.add(RegistryCommands.spec("task-wait", "Follow a task (TASK.stat / UPDATES.get) to its end",
                RegistryCommands.required("--task", "<task>", "the task id")), TaskCommands::taskWait);
    }

    static OptionSpec text(String name, String label, String description) {
        return OptionSpec.builder(name).paramLabel(label).type(String.class).description(description).build();
    }

    static OptionSpec flag(String name, String description) {
        return OptionSpec.builder(name).type(boolean.class).arity("0").description(description).build();
    }

    private static int vdiCopy(Smctl.Invocation inv) {
        String sr = inv.parsed().matchedOptionValue("--sr", "");
        String vdi = inv.parsed().matchedOptionValue("--vdi", "");
        String dest = inv.parsed().matchedOptionValue("--dest", "");
        String url = urlOf(inv);
        String vm = inv.parsed().matchedOptionValue("--vm", "");
        boolean verify = inv.parsed().hasMatchedOption("--verify-dest");
        boolean wait = !inv.parsed().hasMatchedOption("--no-wait");
        long size = wait ? sizeOf(inv, sr, vdi) : 0;
        long start = System.nanoTime();
        String task = inv.session().storage().data().copy(inv.options().dbg(), sr, vdi, vm, url, dest, verify);
        if (!wait) {
            Output.print(inv, WireCodec.encode(task, String.class), String.class);
            return ExitStatus.OK;
        }
        return followAndReport(inv, task, size, start);
    }

    /** {@code --url}, or the first line of {@code --url-file} (not both). */
    static String urlOf(Smctl.Invocation inv) {
        String url = inv.parsed().matchedOptionValue("--url", "");
        String file = inv.parsed().matchedOptionValue("--url-file", "");
        if (file.isEmpty()) {
            return url;
        }
        if (inv.parsed().hasMatchedOption("--url")) {
            throw new UsageError("give --url or --url-file, not both");
        }
        try {
            return java.nio.file.Files.readAllLines(java.nio.file.Path.of(file), java.nio.charset.StandardCharsets.UTF_8)
                    .stream().findFirst().orElse("").strip();
        } catch (java.io.IOException | java.io.UncheckedIOException e) {
            throw new UsageError("cannot read --url-file " + file + ": " + e.getMessage());
        }
    }

    private static int vdiMirror(Smctl.Invocation inv) {
        String sr = inv.parsed().matchedOptionValue("--sr", "");
        String vdi = inv.parsed().matchedOptionValue("--vdi", "");
        String dp = inv.parsed().matchedOptionValue("--dp", "");
        String vm = inv.parsed().matchedOptionValue("--vm", "");
        String url = inv.parsed().matchedOptionValue("--url", "");
        String dest = inv.parsed().matchedOptionValue("--dest", "");
        boolean verify = inv.parsed().hasMatchedOption("--verify-dest");
        long size = sizeOf(inv, sr, vdi);
        long start = System.nanoTime();
        @SuppressWarnings("deprecation")
        String task = inv.session().storage().dataMirror().start(inv.options().dbg(), sr, vdi, dp, vm, vm, url, dest,
                verify);
        Followed followed = follow(inv, task, size, start);
        if (followed.status() != ExitStatus.OK) {
            return followed.status();
        }
        // the task's result names the mirror (upstream's <sr>/<vdi>)
        String id = followed.result().filter(r -> r instanceof AsyncResult.MirrorId)
                .map(r -> ((AsyncResult.MirrorId) r).id()).orElse(sr + "/" + vdi);
        if (!inv.parsed().hasMatchedOption("--finalize")) {
            inv.terminal().err().println("mirror " + id + " is ready: every write of the guest reaches both SRs. "
                    + "Pause the guest, then run vdi-mirror-finalize with the same options (or data-mirror-stop "
                    + "--id " + id + " to abandon it)");
            return ExitStatus.OK;
        }
        return finalizeMirror(inv, sr, vdi, dp, vm);
    }

    private static int vdiMirrorFinalize(Smctl.Invocation inv) {
        return finalizeMirror(inv, inv.parsed().matchedOptionValue("--sr", ""),
                inv.parsed().matchedOptionValue("--vdi", ""), inv.parsed().matchedOptionValue("--dp", ""),
                inv.parsed().matchedOptionValue("--vm", ""));
    }

    /**
     * The switch-over: drain and check, then deactivate. Deactivating ends the mirror and the daemon's
     * post-deactivate hook finalizes the destination at the url the mirror was started with, so smctl needs no
     * connection of its own to the other host (and no copy of the remote client).
     */
    private static int finalizeMirror(Smctl.Invocation inv, String sr, String vdi, String dp, String vm) {
        String dbg = inv.options().dbg();
        var local = inv.session().storage();
        local.dataMirror().preDeactivateHook(dbg, dp, sr, vdi);
        inv.terminal().err().println("mirror of " + sr + "/" + vdi + ": drained, deactivating it on " + dp);
        local.vdi().deactivate(dbg, dp, sr, vdi, vm);
        inv.terminal().err().println("mirror of " + sr + "/" + vdi + ": deactivated; the daemon finalized the "
                + "destination, which now holds the guest's disk (its log has the outcome)");
        return ExitStatus.OK;
    }

    private static int taskWait(Smctl.Invocation inv) {
        return followAndReport(inv, inv.parsed().matchedOptionValue("--task", ""), 0, System.nanoTime());
    }

    /** The VDI's virtual size for the throughput figure, or 0 when it cannot be read (the copy goes on). */
    static long sizeOf(Smctl.Invocation inv, String sr, String vdi) {
        try {
            return inv.session().storage().vdi().stat(inv.options().dbg(), sr, vdi).virtualSize();
        } catch (StorageException e) {
            return 0;
        }
    }

    /** Follows the task, prints its outcome, forgets it (as xapi does once it has read the result). */
    static int followAndReport(Smctl.Invocation inv, String task, long sizeBytes, long startNanos) {
        return follow(inv, task, sizeBytes, startNanos).status();
    }

    /** A followed task's exit status, and its result when it completed with one. */
    record Followed(int status, Optional<AsyncResult> result) {
    }

    private static Followed follow(Smctl.Invocation inv, String task, long sizeBytes, long startNanos) {
        ProgressDisplay display = ProgressDisplay.create(inv.options().progress(), inv.terminal(), sizeBytes);
        TaskFollower follower = new TaskFollower(inv.session(), display, System::nanoTime);
        inv.terminal().err().println("task " + task + ": following");
        TaskInfo info = follower.follow(task, startNanos);
        Duration elapsed = follower.elapsed(startNanos);
        int status;
        Optional<AsyncResult> outcome = Optional.empty();
        if (info.state() instanceof TaskState.Failed f) {
            inv.terminal().err().println("error: task " + task + " failed: " + ErrorText.of(f.error()));
            status = ExitStatus.STORAGE_ERROR;
        } else {
            TaskState.Completed c = (TaskState.Completed) info.state();
            Optional<AsyncResult> result = c.completion().result();
            outcome = result;
            if (inv.options().json()) {
                inv.terminal().out().println(WireCodec.toJson(info, TaskInfo.class));
            } else {
                result.ifPresent(r -> inv.terminal().out().println(resultText(r)));
            }
            long bytes = sizeBytes > 0 ? sizeBytes
                    : result.filter(r -> r instanceof AsyncResult.VdiInfoResult)
                    .map(r -> ((AsyncResult.VdiInfoResult) r).value().virtualSize()).orElse(0L);
            double seconds = c.completion().duration() > 0 ? c.completion().duration() : elapsed.toNanos() / 1e9;
            inv.terminal().err().println(summary(task, bytes, seconds));
            status = ExitStatus.OK;
        }
        try {
            inv.session().storage().task().destroy(inv.options().dbg(), task);
        } catch (StorageException e) {
            inv.terminal().err().println("warning: could not forget task " + task + ": " + ErrorText.of(e.error()));
        }
        return new Followed(status, outcome);
    }

    static String resultText(AsyncResult r) {
        if (r instanceof AsyncResult.VdiInfoResult v) {
            return HumanFormat.render(v.value(), VdiInfo.class);
        }
        return "mirror_id: " + ((AsyncResult.MirrorId) r).id();
    }

    /** {@code task 3: completed in 2.5 s, 1 GiB at 409.6 MiB/s}. */
    static String summary(String task, long bytes, double seconds) {
        String s = "task " + task + ": completed in " + Units.seconds(seconds);
        if (bytes > 0 && seconds > 0) {
            s += ", " + Units.bytes(bytes) + " at " + Units.rate(bytes / seconds);
        }
        return s;
    }
}
