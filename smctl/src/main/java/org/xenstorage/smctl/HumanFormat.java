package org.xenstorage.smctl;

import com.fasterxml.jackson.databind.JsonNode;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.xenstorage.idl.types.TaskInfo;
import org.xenstorage.idl.types.TaskState;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.idl.wire.Tag;
import org.xenstorage.idl.wire.WireName;
import org.xenstorage.idl.wire.WireCodec;

/**
 * Human output of SMAPIv2 results: plain text for a string or number, {@code key: value} blocks for
 * records and maps (nested values indented, YAML-like), tables for lists of records and maps of records,
 * nothing for unit. Field names are the wire names, so the human and {@code --json} outputs use one vocabulary.
 */
final class HumanFormat {
    /** Past this many scalar columns a table gets too wide for a terminal; known records get a chosen subset. */
    private static final int MAX_COLUMNS = 7;
    private static final Map<Class<?>, List<String>> PREFERRED_COLUMNS = Map.of(
            VdiInfo.class, List.of("vdi", "uuid", "name_label", "virtual_size", "physical_utilisation", "ty",
                    "read_only"),
            TaskInfo.class, List.of("id", "state", "dbg", "ctime", "cancellable"));

    private HumanFormat() {
    }

    /** The text of a typed result, without a trailing newline; empty for unit. */
    static String render(Object value, Type type) {
        if (value == null || type == Void.class || type == void.class) {
            return "";
        }
        if (value instanceof JsonNode node) {
            return render(node);
        }
        if (value instanceof List<?> list && isTabular(elementType(type, 0))) {
            return list.isEmpty() ? "(none)" : table(null, null, list, recordClass(elementType(type, 0)));
        }
        if (value instanceof Map<?, ?> map && isTabular(elementType(type, 1))) {
            return map.isEmpty() ? "(none)" : table("key", new ArrayList<>(map.keySet()), new ArrayList<>(map.values()),
                    recordClass(elementType(type, 1)));
        }
        if (value instanceof Collection<?> c && !c.isEmpty() && isInline(value)) {
            // a list of names reads (and pipes into `while read`) best one per line
            List<String> lines = new ArrayList<>();
            c.forEach(x -> lines.add(inline(null, x)));
            return String.join("\n", lines);
        }
        if (isInline(value)) {
            return inline(null, value);
        }
        StringBuilder sb = new StringBuilder();
        block(sb, 0, value);
        return strip(sb);
    }

    /** The text of an untyped JSON value (extension results, diagnostics). */
    static String render(JsonNode node) {
        if (node == null || node.isNull()) {
            return "";
        }
        if (node.isTextual()) {
            return node.textValue();
        }
        if (node.isValueNode()) {
            return node.asText();
        }
        if (node.isEmpty()) {
            return "(none)";
        }
        if (node.isArray() && allScalars(node)) {
            List<String> lines = new ArrayList<>();
            for (JsonNode n : node) {
                lines.add(n.asText());
            }
            return String.join("\n", lines);
        }
        if (node.isArray() && allObjects(node)) {
            List<JsonNode> rows = new ArrayList<>();
            node.forEach(rows::add);
            return jsonTable(null, null, rows);
        }
        if (node.isObject() && allObjects(node)) {
            List<String> keys = new ArrayList<>();
            List<JsonNode> rows = new ArrayList<>();
            node.fields().forEachRemaining(e -> {
                keys.add(e.getKey());
                rows.add(e.getValue());
            });
            return jsonTable("key", keys, rows);
        }
        StringBuilder sb = new StringBuilder();
        jsonBlock(sb, 0, node);
        return strip(sb);
    }

    /** A table of JSON objects; {@code keyHeader}/{@code keys} add a first column (an object's member names). */
    static String jsonTable(String keyHeader, List<String> keys, List<JsonNode> rows) {
        Set<String> columns = new LinkedHashSet<>();
        for (JsonNode row : rows) {
            row.fieldNames().forEachRemaining(columns::add);
        }
        List<String> header = new ArrayList<>();
        if (keyHeader != null) {
            header.add(keyHeader);
        }
        header.addAll(columns);
        List<List<String>> cells = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            List<String> line = new ArrayList<>();
            if (keyHeader != null) {
                line.add(keys.get(i));
            }
            for (String c : columns) {
                JsonNode v = rows.get(i).get(c);
                line.add(v == null || v.isNull() ? "-" : v.isValueNode() ? v.asText() : Json.write(v));
            }
            cells.add(line);
        }
        return grid(header, cells);
    }

    private static void jsonBlock(StringBuilder sb, int indent, JsonNode node) {
        if (node.isObject()) {
            Iterator<Map.Entry<String, JsonNode>> it = node.fields();
            while (it.hasNext()) {
                Map.Entry<String, JsonNode> e = it.next();
                entry(sb, indent, e.getKey(), e.getValue());
            }
        } else {
            for (JsonNode item : node) {
                if (item.isValueNode() || item.isEmpty()) {
                    line(sb, indent, "- " + jsonInline(item));
                } else {
                    line(sb, indent, "-");
                    jsonBlock(sb, indent + 2, item);
                }
            }
        }
    }

    private static void entry(StringBuilder sb, int indent, String key, JsonNode v) {
        if (v.isValueNode() || v.isEmpty()) {
            if (v.isTextual() && v.textValue().contains("\n")) {
                line(sb, indent, key + ":");
                for (String l : v.textValue().split("\n", -1)) {
                    line(sb, indent + 2, l);
                }
            } else {
                line(sb, indent, key + ": " + jsonInline(v));
            }
        } else if (v.isArray() && allScalars(v)) {
            List<String> parts = new ArrayList<>();
            v.forEach(n -> parts.add(n.asText()));
            line(sb, indent, key + ": " + String.join(", ", parts));
        } else {
            line(sb, indent, key + ":");
            jsonBlock(sb, indent + 2, v);
        }
    }

    private static String jsonInline(JsonNode v) {
        if (v.isNull()) {
            return "-";
        }
        if (v.isArray() && v.isEmpty()) {
            return "[]";
        }
        if (v.isObject() && v.isEmpty()) {
            return "{}";
        }
        if (v.isTextual()) {
            return v.textValue().isEmpty() ? "\"\"" : v.textValue();
        }
        return v.asText();
    }

    private static boolean allScalars(JsonNode array) {
        for (JsonNode n : array) {
            if (!n.isValueNode()) {
                return false;
            }
        }
        return true;
    }

    private static boolean allObjects(JsonNode node) {
        for (JsonNode n : node) {
            if (!n.isObject()) {
                return false;
            }
        }
        return true;
    }

    // ---- typed values ----

    private static void block(StringBuilder sb, int indent, Object value) {
        if (value instanceof Optional<?> o) {
            if (o.isEmpty()) {
                line(sb, indent, "-");
            } else {
                block(sb, indent, o.get());
            }
        } else if (isVariant(value)) {
            RecordComponent[] rc = value.getClass().getRecordComponents();
            if (isInline(value)) {
                line(sb, indent, inline(null, value));
            } else if (rc.length == 1) {
                line(sb, indent, tagOf(value) + ":");
                block(sb, indent + 2, component(value, rc[0]));
            } else {
                line(sb, indent, tagOf(value) + ":");
                fields(sb, indent + 2, value);
            }
        } else if (value instanceof Record) {
            fields(sb, indent, value);
        } else if (value instanceof Map<?, ?> map) {
            for (Map.Entry<?, ?> e : map.entrySet()) {
                field(sb, indent, String.valueOf(e.getKey()), e.getValue());
            }
        } else if (value instanceof Collection<?> list) {
            for (Object item : list) {
                if (isInline(item)) {
                    line(sb, indent, "- " + inline(null, item));
                } else {
                    StringBuilder nested = new StringBuilder();
                    block(nested, indent + 2, item);
                    // "- " takes the place of the first line's indentation, as YAML writes it
                    sb.append(" ".repeat(indent)).append("- ").append(nested.substring(indent + 2));
                }
            }
        } else {
            line(sb, indent, inline(null, value));
        }
    }

    private static void fields(StringBuilder sb, int indent, Object record) {
        for (RecordComponent rc : record.getClass().getRecordComponents()) {
            field(sb, indent, wireName(rc), component(record, rc));
        }
    }

    private static void field(StringBuilder sb, int indent, String name, Object v) {
        if (isInline(v)) {
            String text = inline(name, v);
            if (text.contains("\n")) {
                line(sb, indent, name + ":");
                for (String l : text.split("\n", -1)) {
                    line(sb, indent + 2, l);
                }
            } else {
                line(sb, indent, name + ": " + text);
            }
        } else {
            line(sb, indent, name + ":");
            block(sb, indent + 2, v);
        }
    }

    /** Whether a value prints on one line. */
    private static boolean isInline(Object v) {
        if (v == null || v instanceof String || v instanceof Number || v instanceof Boolean || v instanceof Enum<?>
                || v instanceof JsonNode || v instanceof TaskState) {
            return true;
        }
        if (v instanceof Optional<?> o) {
            return o.isEmpty() || isInline(o.get());
        }
        if (v instanceof Collection<?> c) {
            return c.isEmpty() || c.stream().allMatch(x -> x instanceof String || x instanceof Number);
        }
        if (v instanceof Map<?, ?> m) {
            return m.isEmpty();
        }
        if (isVariant(v)) {
            RecordComponent[] rc = v.getClass().getRecordComponents();
            return rc.length == 0 || rc.length == 1 && isInline(component(v, rc[0])) && !(component(v, rc[0]) instanceof Collection<?> c && !c.isEmpty());
        }
        return false;
    }

    /** One-line text; {@code name} (a field's wire name, or null) lets sizes read as sizes. */
    private static String inline(String name, Object v) {
        if (v == null) {
            return "-";
        }
        if (v instanceof String s) {
            return s.isEmpty() ? "\"\"" : s;
        }
        if (v instanceof Double || v instanceof Float) {
            return Units.number(((Number) v).doubleValue());
        }
        if (v instanceof Long || v instanceof Integer) {
            long n = ((Number) v).longValue();
            return isSizeName(name) && Math.abs(n) >= 1024 ? n + " (" + Units.bytes(n) + ")" : Long.toString(n);
        }
        if (v instanceof Enum<?> e) {
            return enumTag(e);
        }
        if (v instanceof JsonNode n) {
            return n.isTextual() ? n.textValue() : Json.write(n);
        }
        if (v instanceof Optional<?> o) {
            return o.isEmpty() ? "-" : inline(name, o.get());
        }
        if (v instanceof TaskState state) {
            return taskState(state);
        }
        if (v instanceof Collection<?> c) {
            if (c.isEmpty()) {
                return "[]";
            }
            List<String> parts = new ArrayList<>();
            c.forEach(x -> parts.add(inline(null, x)));
            return String.join(", ", parts);
        }
        if (v instanceof Map<?, ?> m && m.isEmpty()) {
            return "{}";
        }
        if (isVariant(v)) {
            RecordComponent[] rc = v.getClass().getRecordComponents();
            return rc.length == 0 ? tagOf(v) : tagOf(v) + " " + inline(null, component(v, rc[0]));
        }
        return String.valueOf(v);
    }

    /** {@code Pending 45%}, {@code Completed in 12.5 s}, {@code Failed: Cancelled: 3}. */
    static String taskState(TaskState state) {
        if (state instanceof TaskState.Pending p) {
            return "Pending " + Units.number(Math.round(p.progress() * 1000) / 10.0) + "%";
        }
        if (state instanceof TaskState.Completed c) {
            String result = c.completion().result().map(r -> ", result " + tagOf(r)).orElse("");
            return "Completed in " + Units.seconds(c.completion().duration()) + result;
        }
        return "Failed: " + ErrorText.of(((TaskState.Failed) state).error());
    }

    private static boolean isSizeName(String name) {
        return name != null && (name.contains("size") || name.contains("space") || name.contains("utilisation"));
    }

    // ---- tables ----

    private static String table(String keyHeader, List<?> keys, List<?> rows, Class<?> recordClass) {
        List<RecordComponent> columns = columns(recordClass);
        List<String> header = new ArrayList<>();
        if (keyHeader != null) {
            header.add(keyHeader);
        }
        columns.forEach(c -> header.add(wireName(c)));
        List<List<String>> cells = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            List<String> line = new ArrayList<>();
            if (keyHeader != null) {
                line.add(String.valueOf(keys.get(i)));
            }
            for (RecordComponent c : columns) {
                Object v = component(rows.get(i), c);
                line.add(cell(wireName(c), v));
            }
            cells.add(line);
        }
        return grid(header, cells);
    }

    private static String cell(String name, Object v) {
        Object x = v instanceof Optional<?> o ? o.orElse(null) : v;
        if ((x instanceof Long || x instanceof Integer) && isSizeName(name)) {
            return Units.bytes(((Number) x).longValue());
        }
        return inline(name, v);
    }

    private static List<RecordComponent> columns(Class<?> recordClass) {
        List<RecordComponent> scalar = new ArrayList<>();
        for (RecordComponent rc : recordClass.getRecordComponents()) {
            if (isScalarType(rc.getGenericType())) {
                scalar.add(rc);
            }
        }
        List<String> preferred = PREFERRED_COLUMNS.get(recordClass);
        if (preferred != null) {
            List<RecordComponent> chosen = new ArrayList<>();
            for (String p : preferred) {
                scalar.stream().filter(rc -> wireName(rc).equals(p)).findFirst().ifPresent(chosen::add);
            }
            return chosen;
        }
        return scalar.size() > MAX_COLUMNS ? scalar.subList(0, MAX_COLUMNS) : scalar;
    }

    private static String grid(List<String> header, List<List<String>> rows) {
        int[] width = new int[header.size()];
        for (int i = 0; i < header.size(); i++) {
            width[i] = header.get(i).length();
            for (List<String> r : rows) {
                width[i] = Math.max(width[i], r.get(i).length());
            }
        }
        StringBuilder sb = new StringBuilder();
        List<String> upper = header.stream().map(h -> h.toUpperCase(Locale.ROOT)).toList();
        gridLine(sb, upper, width);
        rows.forEach(r -> gridLine(sb, r, width));
        return strip(sb);
    }

    private static void gridLine(StringBuilder sb, List<String> cells, int[] width) {
        StringBuilder l = new StringBuilder();
        for (int i = 0; i < cells.size(); i++) {
            l.append(cells.get(i));
            if (i < cells.size() - 1) {
                l.append(" ".repeat(width[i] - cells.get(i).length() + 2));
            }
        }
        sb.append(l.toString().stripTrailing()).append('\n');
    }

    // ---- reflection helpers ----

    private static boolean isTabular(Type t) {
        Class<?> c = recordClass(t);
        return c != null && c.isRecord() && !isVariantClass(c) && !c.isAnnotationPresent(org.xenstorage.idl.wire.WireTuple.class)
                && !columns(c).isEmpty();
    }

    private static Class<?> recordClass(Type t) {
        return t instanceof Class<?> c && c.isRecord() ? c : null;
    }

    private static Type elementType(Type t, int index) {
        if (t instanceof ParameterizedType p && p.getActualTypeArguments().length > index) {
            return p.getActualTypeArguments()[index];
        }
        return Object.class;
    }

    private static boolean isScalarType(Type t) {
        if (t instanceof Class<?> c) {
            return c == String.class || c.isPrimitive() || Number.class.isAssignableFrom(c) || c == Boolean.class
                    || c.isEnum() || c == TaskState.class;
        }
        if (t instanceof ParameterizedType p && p.getRawType() == Optional.class) {
            return isScalarType(p.getActualTypeArguments()[0]);
        }
        return false;
    }

    private static boolean isVariant(Object v) {
        return v instanceof Record && isVariantClass(v.getClass());
    }

    private static boolean isVariantClass(Class<?> c) {
        for (Class<?> i : c.getInterfaces()) {
            if (i.isSealed()) {
                return true;
            }
        }
        return false;
    }

    static String tagOf(Object variant) {
        Tag t = variant.getClass().getAnnotation(Tag.class);
        return t != null ? t.value() : variant.getClass().getSimpleName();
    }

    private static String enumTag(Enum<?> e) {
        try {
            Tag t = e.getDeclaringClass().getField(e.name()).getAnnotation(Tag.class);
            return t != null ? t.value() : e.name();
        } catch (NoSuchFieldException x) {
            return e.name();
        }
    }

    private static String wireName(RecordComponent rc) {
        WireName n = rc.getAnnotation(WireName.class);
        return n != null ? n.value() : WireCodec.snakeCase(rc.getName());
    }

    private static Object component(Object record, RecordComponent rc) {
        try {
            rc.getAccessor().setAccessible(true);
            return rc.getAccessor().invoke(record);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot read " + rc, e);
        }
    }

    private static void line(StringBuilder sb, int indent, String text) {
        sb.append(" ".repeat(indent)).append(text).append('\n');
    }

    private static String strip(StringBuilder sb) {
        int end = sb.length();
        while (end > 0 && sb.charAt(end - 1) == '\n') {
            end--;
        }
        return sb.substring(0, end);
    }
}
