package org.xenstorage.smapiv1;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.rpc.StorageClient;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.Implementation;
import org.xenstorage.idl.types.ProbeResult;
import org.xenstorage.idl.types.QueryResult;
import org.xenstorage.idl.types.Scan2Result;
import org.xenstorage.idl.types.SrInfo;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.testing.Soon;

/**
 * The whole SMAPIv1 path with the shipped example driver: SMAPIv2 JSON-RPC in, the translation,
 * real driver processes, the driver's XenAPI callbacks into the embedded catalogue, the sparse
 * files and the attach ledger on disk, SMAPIv2 JSON-RPC out.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LocalfileEndToEndTest {
    private static final long GIB = 1L << 30;
    @TempDir
    static Path tmp;
    Smapiv1Backend backend;
    StorageService v2;
    Path location;
    final String sr = UUID.randomUUID().toString();
    VdiInfo disk;

    @BeforeAll
    void start() throws Exception {
        Path smDir = tmp.resolve("sm");
        TestDrivers.installLocalfile(smDir);
        backend = Smapiv1Backend.start(TestDrivers.config(smDir, tmp.resolve("state"), Soon.timeout()), null,
                Smapiv1Backend.Options.defaults());
        v2 = StorageClient.of(text -> backend.dispatch("localfile", text));
        location = tmp.resolve("srdir");
    }

    @AfterAll
    void stop() {
        backend.close();
    }

    private Map<String, Object> ledger(String vdi) throws Exception {
        JsonNode all = Json.MAPPER.readTree(location.resolve(".attach-ledger.json").toFile());
        return Json.MAPPER.convertValue(all.get(vdi), Map.class);
    }

    @Test
    @Order(1)
    void discoversTheExampleDriverAndDescribesIt() {
        assertEquals(Set.of("localfile"), backend.types());
        QueryResult q = v2.query().query("t");
        assertEquals("localfile", q.driver());
        assertTrue(q.features().contains("VDI_ATTACH/1"), q.features().toString());
        assertTrue(q.configuration().containsKey("location"));
        assertEquals("No diagnostics are available for SMAPIv1 plugins", v2.query().diagnostics("t"));
    }

    @Test
    @Order(2)
    void createsAttachesAndStatsTheSr() {
        Map<String, String> dc = v2.sr().create("t", sr, "my sr", "a test sr", Map.of("location", location.toString()),
                0);
        assertEquals(Map.of("location", location.toString()), dc);
        assertTrue(Files.isDirectory(location));
        v2.sr().attach("t", sr, Map.of("location", location.toString()));
        SrInfo info = v2.sr().stat("t", sr);
        assertEquals("my sr", info.nameLabel());
        assertTrue(info.totalSpace() > 0 && info.freeSpace() <= info.totalSpace(), info.toString());
        assertEquals(List.of(sr), v2.sr().list("t"));
    }

    @Test
    @Order(3)
    void probeFindsTheSr() {
        ProbeResult r = v2.sr().probe("t", "org.xen.xapi.storage.localfile", Map.of("location", location.toString()),
                Map.of());
        String xml = assertInstanceOf(ProbeResult.Raw.class, r).value();
        assertTrue(xml.contains("<UUID>" + sr + "</UUID>"), xml);
    }

    @Test
    @Order(4)
    void createsASparseVdiRecordedThroughTheCallbacks() throws Exception {
        VdiInfo req = VdiInfo.defaults("ignored", "disk0").withNames("disk0", "first disk").withSizes(GIB, 0)
                .withSmConfig(Map.of("base_mirror", "bm1"));
        disk = v2.vdi().create("t", sr, req);
        String uuid = disk.uuid().orElseThrow();
        assertEquals(uuid, disk.vdi(), "the example driver's location is the uuid");
        assertEquals(GIB, disk.virtualSize());
        assertEquals("disk0", disk.nameLabel());
        assertEquals("bm1", disk.smConfig().get("base_mirror"));
        Path file = location.resolve(uuid + ".img");
        assertEquals(GIB, Files.size(file));
        assertTrue(disk.physicalUtilisation() < GIB, "sparse: " + disk.physicalUtilisation());
        assertEquals(disk.vdi(), v2.vdi().stat("t", sr, disk.vdi()).vdi());
        assertEquals(uuid, v2.vdi().getByName("t", sr, disk.vdi()).uuid().orElseThrow());
    }

    @Test
    @Order(5)
    void attachActivateDeactivateDetachReachTheDriver() throws Exception {
        Backend b = v2.vdi().attach3("t", "dp1", sr, disk.vdi(), "vm1", true);
        String path = location.resolve(disk.vdi() + ".img").toString();
        assertEquals(path, b.first(Implementation.XenDisk.class).orElseThrow().value().params());
        assertEquals(path, b.first(Implementation.BlockDevice.class).orElseThrow().value().path());
        assertEquals(Map.of("vdi-uuid", disk.vdi()), b.first(Implementation.XenDisk.class).get().value().extra());
        VdiInfo afterAttach = v2.vdi().stat("t", sr, disk.vdi());
        String hostUuid = backend.catalogue().orElseThrow().hostUuid();
        assertEquals("true", afterAttach.smConfig().get("read-caching-enabled-on-" + hostUuid));
        assertEquals(Map.of("attached", true, "activated", false, "mode", "rw"),
                pick(ledger(disk.vdi()), "attached", "activated", "mode"));

        v2.vdi().activate3("t", "dp1", sr, disk.vdi(), "vm1");
        assertEquals(true, ledger(disk.vdi()).get("activated"));

        // the driver refuses to delete an attached VDI (fault 24); below the wrapper, which would tear down first
        StorageException inUse = assertThrows(StorageException.class,
                () -> backend.translationFor("localfile").destroy("t", sr, disk.vdi()));
        assertEquals(new StorageError.BackendError("VDI_IN_USE", List.of()), inUse.error());

        v2.vdi().deactivate("t", "dp1", sr, disk.vdi(), "vm1");
        v2.vdi().detach("t", "dp1", sr, disk.vdi(), "vm1");
        Map<String, Object> l = ledger(disk.vdi());
        assertEquals(Map.of("attached", false, "activated", false, "attach", 1, "activate", 1, "deactivate", 1,
                "detach", 1), pick(l, "attached", "activated", "attach", "activate", "deactivate", "detach"));
        VdiInfo afterDetach = v2.vdi().stat("t", sr, disk.vdi());
        assertFalse(afterDetach.smConfig().containsKey("read-caching-enabled-on-" + hostUuid));
        assertFalse(afterDetach.contentId().equals(afterDetach.vdi()), "deactivate gave it a content_id");
    }

    @Test
    @Order(6)
    void resizesSnapshotsAndClones() throws Exception {
        assertEquals(2 * GIB, v2.vdi().resize("t", sr, disk.vdi(), 2 * GIB));
        assertEquals(2 * GIB, Files.size(location.resolve(disk.vdi() + ".img")));
        StorageException shrink = assertThrows(StorageException.class,
                () -> v2.vdi().resize("t", sr, disk.vdi(), GIB));
        assertEquals(new StorageError.BackendError("SR_BACKEND_FAILURE_79",
                List.of("", "The VDI size is invalid [opterr=shrinking is not supported]", "")), shrink.error());

        VdiInfo source = v2.vdi().stat("t", sr, disk.vdi());
        VdiInfo snap = v2.vdi().snapshot("t", sr, source.withNames("snap", "a snapshot"));
        assertNotEquals(disk.vdi(), snap.vdi());
        assertTrue(snap.isASnapshot());
        assertTrue(snap.readOnly());
        assertEquals("snap", snap.nameLabel());
        assertEquals(disk.uuid().get(), snap.snapshotOf(), "snapshot_of carries the source's uuid (upstream)");
        assertEquals(source.contentId(), snap.contentId());
        assertEquals(2 * GIB, Files.size(location.resolve(snap.vdi() + ".img")));

        VdiInfo clone = v2.vdi().clone("t", sr, source.withNames("clone", ""));
        assertFalse(clone.isASnapshot());
        assertFalse(clone.readOnly());
        assertEquals("clone", clone.nameLabel());

        List<String> scanned = v2.sr().scan2("t", sr).vdis().stream().map(VdiInfo::vdi).sorted().toList();
        assertEquals(List.of(disk.vdi(), snap.vdi(), clone.vdi()).stream().sorted().toList(), scanned);

        v2.vdi().destroy("t", sr, clone.vdi());
        v2.vdi().destroy("t", sr, snap.vdi());
        assertFalse(Files.exists(location.resolve(clone.vdi() + ".img")));
    }

    @Test
    @Order(7)
    void scanPicksUpFilesAddedBehindItsBackAndIntroduceFindsThem() throws Exception {
        String stray = UUID.randomUUID().toString();
        Files.write(location.resolve(stray + ".img"), new byte[4096]);
        Scan2Result r = v2.sr().scan2("t", sr);
        assertTrue(r.vdis().stream().anyMatch(v -> v.vdi().equals(stray)), r.vdis().toString());
        assertEquals(4096, r.vdis().stream().filter(v -> v.vdi().equals(stray)).findFirst().get().virtualSize());
        v2.vdi().destroy("t", sr, stray);
        assertThrows(StorageException.class, () -> v2.vdi().stat("t", sr, stray));

        String other = UUID.randomUUID().toString();
        Files.write(location.resolve(other + ".img"), new byte[512]);
        VdiInfo introduced = v2.vdi().introduce("t", sr, other, Map.of(), other);
        assertEquals(other, introduced.vdi());
        StorageException again = assertThrows(StorageException.class,
                () -> v2.vdi().introduce("t", sr, other, Map.of(), other));
        assertEquals(new StorageError.VdiDoesNotExist(other), again.error());
        v2.vdi().destroy("t", sr, other);
    }

    @Test
    @Order(8)
    void unknownVdisAndUnsupportedCallsGiveUpstreamsErrors() {
        assertEquals(new StorageError.VdiDoesNotExist("nope"),
                assertThrows(StorageException.class, () -> v2.vdi().stat("t", sr, "nope")).error());
        assertEquals(new StorageError.VdiDoesNotExist("nope"),
                assertThrows(StorageException.class, () -> v2.vdi().attach3("t", "dp", sr, "nope", "vm", true))
                        .error());
        assertEquals(new StorageError.Unimplemented("VDI.compose"), assertThrows(StorageException.class,
                () -> v2.vdi().compose("t", sr, disk.vdi(), disk.vdi())).error());
        assertEquals(new StorageError.Unimplemented("VDI.enable_cbt"), assertThrows(StorageException.class,
                () -> v2.vdi().enableCbt("t", sr, disk.vdi())).error());
        // vdi_revert: no SM driver dispatches it, the driver answers BadRequest (143)
        StorageException revert = assertThrows(StorageException.class, () -> v2.vdi().revert("t", sr,
                disk.withSnapshot(true, disk.snapshotTime(), disk.vdi())));
        assertEquals("SR_BACKEND_FAILURE_143",
                ((StorageError.BackendError) revert.error()).code());
        assertEquals(new StorageError.Unimplemented("DATA.copy"), assertThrows(StorageException.class,
                () -> v2.data().copy("t", sr, disk.vdi(), "vm", "url", sr, false)).error());
    }

    @Test
    @Order(8)
    void hostileNamesNeverReachAPath() {
        // a location that is not in the catalogue never reaches the driver
        assertEquals(new StorageError.VdiDoesNotExist("../../etc/passwd"), assertThrows(StorageException.class,
                () -> v2.vdi().attach3("t", "dp", sr, "../../etc/passwd", "vm", false)).error());
        // the driver itself refuses a relative SR location (fault 1, InvalidArg)
        String other = UUID.randomUUID().toString();
        StorageException relative = assertThrows(StorageException.class,
                () -> v2.sr().create("t", other, "x", "", Map.of("location", "relative/dir"), 0));
        assertEquals("SR_BACKEND_FAILURE_1", ((StorageError.BackendError) relative.error()).code());
        assertFalse(Files.exists(Path.of("relative")));
        // an SR nobody created is a clear error, not a crash
        StorageException unknown = assertThrows(StorageException.class,
                () -> backend.translationFor("localfile").stat("t", other));
        assertEquals(new StorageError.BackendError("UUID_INVALID", List.of("SR", other)), unknown.error());
    }

    @Test
    @Order(9)
    void destroyingANonEmptySrFailsThenDetachAndDestroyWork() throws Exception {
        StorageException notEmpty = assertThrows(StorageException.class, () -> v2.sr().destroy("t", sr));
        assertEquals(new StorageError.BackendError("SR_NOT_EMPTY", List.of()), notEmpty.error());
        v2.vdi().destroy("t", sr, disk.vdi());
        v2.sr().detach("t", sr);
        assertEquals(List.of(), v2.sr().list("t"));
        v2.sr().attach("t", sr, Map.of("location", location.toString()));
        // what a driver killed in the middle of a ledger write leaves behind
        Files.writeString(location.resolve(".attach-ledger.json.tmp"), "{\"half\":");
        v2.sr().destroy("t", sr);
        assertFalse(Files.exists(location.resolve(".localfile-sr")));
        try (var left = Files.list(location)) {
            assertEquals(List.of(), left.map(p -> p.getFileName().toString()).toList(), "SR.destroy leaves nothing");
        }
        assertThrows(StorageException.class, () -> v2.sr().stat("t", sr));
    }

    private static Map<String, Object> pick(Map<String, Object> m, String... keys) {
        Map<String, Object> out = new java.util.LinkedHashMap<>();
        for (String k : keys) {
            out.put(k, m.get(k));
        }
        return out;
    }
}
