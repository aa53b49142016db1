package org.xenstorage.smapiv1.catalogue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.statefile.AtomicFile;

/**
 * The xensource-inventory file of the embedded mode. SM drivers learn which host they run on from
 * {@code /etc/xensource-inventory}: {@code INSTALLATION_UUID} (the host record's uuid,
 * {@code util.get_this_host}) and {@code CONTROL_DOMAIN_UUID} (a VM record whose {@code resident_on} is
 * the host, {@code util.get_localhost_ref}). The catalogue and the file must agree: an existing file
 * naming both wins (the catalogue adopts its uuids); otherwise the catalogue's uuids are written into
 * it, other lines kept.
 */
public final class Inventory {
    private static final Logger LOG = LoggerFactory.getLogger(Inventory.class);
    /** Names the file in every driver's environment (our drivers read it; upstream's read /etc/xensource-inventory). */
    public static final String ENV = "XENSOURCE_INVENTORY";
    public static final String HOST_KEY = "INSTALLATION_UUID";
    public static final String DOM0_KEY = "CONTROL_DOMAIN_UUID";
    private static final Pattern LINE = Pattern.compile("^([A-Z0-9_]+)='([^']*)'\\s*$");

    private Inventory() {
    }

    /** The {@code KEY='value'} lines of an inventory file, in order (other lines ignored). */
    public static Map<String, String> parse(String text) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String line : text.split("\n", -1)) {
            Matcher m = LINE.matcher(line);
            if (m.matches()) {
                out.put(m.group(1), m.group(2));
            }
        }
        return out;
    }

    /** Makes {@code file} and {@code catalogue} name the same host and control domain (see the class comment). */
    public static void reconcile(Path file, Catalogue catalogue) {
        try {
            Optional<byte[]> bytes = AtomicFile.read(file);
            String text = bytes.map(b -> new String(b, StandardCharsets.UTF_8)).orElse("");
            Map<String, String> keys = parse(text);
            if (keys.containsKey(HOST_KEY) && keys.containsKey(DOM0_KEY)) {
                try {
                    catalogue.adoptIdentity(keys.get(HOST_KEY), keys.get(DOM0_KEY));
                } catch (IllegalArgumentException e) {
                    throw new IllegalStateException("inventory " + file + ": " + e.getMessage(), e);
                }
                return;
            }
            List<String> lines = new ArrayList<>();
            for (String line : text.split("\n")) {
                Matcher m = LINE.matcher(line);
                if (!line.isEmpty() && !(m.matches() && (m.group(1).equals(HOST_KEY) || m.group(1).equals(DOM0_KEY)))) {
                    lines.add(line);
                }
            }
            lines.add(HOST_KEY + "='" + catalogue.hostUuid() + "'");
            lines.add(DOM0_KEY + "='" + catalogue.controlDomainUuid() + "'");
            AtomicFile.write(file, (String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8));
            LOG.info("wrote {} and {} to {}", HOST_KEY, DOM0_KEY, file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read or write the inventory " + file, e);
        }
    }
}
