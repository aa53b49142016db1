package org.xenstorage.smapiv1.wrapper;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.xenstorage.idl.api.RpcMethod;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.api.VdiApi;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.DpStat;
import org.xenstorage.idl.types.RoRw;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.idl.wire.WireCodec;
import org.xenstorage.smapiv1.Smapiv1Backend;
import org.xenstorage.smapiv1.Smapiv1Config;
import org.xenstorage.smapiv1.translation.Smapiv1Translation;
import org.xenstorage.testing.Soon;

/**
 * The process {@code BackendKillIT} kills: a real {@link Smapiv1Backend} (driver discovery, exec of the
 * example driver, embedded XenAPI catalogue) whose translation sits under a {@link Wrapper}, composed as
 * the backend composes it, with one shim in between that can hold the process still just before or just
 * after a chosen SM call ({@code arm}), so the parent can {@code kill -9} it in that exact window.
 *
 * <p>Args: smDir stateDir. Commands on stdin, one per line, words separated by spaces; each answers one
 * stdout line {@code OK [value]} or {@code ERR <error JSON>}; a held call prints {@code HELD <phase> <rpc>}.
 */
public final class CrashableBackendMain {
    private static volatile String armedPhase;
    private static volatile String armedRpc;

    private CrashableBackendMain() {
    }

    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        // every driver call here should succeed (the parent kills the process, never a timeout)
        Smapiv1Config config = new Smapiv1Config(Path.of(args[0]), Path.of(args[1]), "org.xen.xapi.storage",
                Soon.timeout(), 4, Optional.empty());
        Smapiv1Backend backend = Smapiv1Backend.start(config, null, Smapiv1Backend.Options.defaults());
        Smapiv1Translation translation = backend.translationFor("localfile");
        StorageService inner = StorageService.of(translation);
        VdiApi held = (VdiApi) Proxy.newProxyInstance(VdiApi.class.getClassLoader(), new Class<?>[]{VdiApi.class},
                (p, m, a) -> {
                    String rpc = m.getAnnotation(RpcMethod.class).value();
                    hold("before", rpc, out);
                    Object r;
                    try {
                        r = m.invoke(inner.vdi(), a);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                    hold("after", rpc, out);
                    return r;
                });
        StorageService shimmed = new StorageService(inner.query(), inner.dp(), inner.sr(), held, inner.getByName(),
                inner.data(), inner.dataMirror(), inner.policy(), inner.task(), inner.updates());
        Wrapper wrapper = new Wrapper(shimmed, Path.of(args[1]).resolve("datapaths-crash.db"));
        translation.useModeSource((sr, vdi) -> wrapper.attachedMode(sr, vdi).map(m -> m == RoRw.RW));
        StorageService s = wrapper.service();
        out.println("READY");
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            String[] w = line.split(" ");
            try {
                out.println("OK " + run(s, w));
            } catch (StorageException e) {
                out.println("ERR " + WireCodec.toJson(e.error(), StorageError.class));
            } catch (RuntimeException e) {
                out.println("ERR " + e);
            }
        }
        backend.close();
    }

    private static void hold(String phase, String rpc, PrintStream out) throws InterruptedException {
        if (phase.equals(armedPhase) && rpc.equals(armedRpc)) {
            out.println("HELD " + phase + " " + rpc);
            Thread.sleep(Long.MAX_VALUE); // until kill -9
        }
    }

    private static String run(StorageService s, String[] w) {
        switch (w[0]) {
            case "arm":
                armedPhase = w[1];
                armedRpc = w[2];
                return "";
            case "sr-create":
                s.sr().create("t", w[1], "crash sr", "", Map.of("location", w[2]), 0);
                return "";
            case "sr-attach":
                s.sr().attach("t", w[1], Map.of("location", w[2]));
                return "";
            case "sr-detach":
                s.sr().detach("t", w[1]);
                return "";
            case "vdi-create":
                return s.vdi().create("t", w[1], VdiInfo.defaults("x", w[2]).withSizes(1 << 20, 0)).vdi();
            case "attach":
                return WireCodec.toJson(s.vdi().attach3("t", w[1], w[2], w[3], "0", Boolean.parseBoolean(w[4])),
                        org.xenstorage.idl.types.Backend.class);
            case "activate":
                s.vdi().activate3("t", w[1], w[2], w[3], "0");
                return "";
            case "deactivate":
                s.vdi().deactivate("t", w[1], w[2], w[3], "0");
                return "";
            case "detach":
                s.vdi().detach("t", w[1], w[2], w[3], "0");
                return "";
            case "destroy":
                s.dp().destroy2("t", w[1], w[2], w[3], "0", false);
                return "";
            case "stat":
                return WireCodec.toJson(s.dp().statVdi("t", w[1], w[2]), DpStat.class);
            default:
                throw new IllegalArgumentException("unknown command " + w[0]);
        }
    }
}
