package org.xenstorage.smctl;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.xenstorage.idl.rpc.MethodDescriptor;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.idl.wire.WireCodec;
import org.xenstorage.idl.wire.WireException;
import org.xenstorage.idl.wire.WireName;
import org.xenstorage.idl.wire.WireTuple;
import picocli.CommandLine.Model.OptionSpec;

/**
 * One SMAPIv2 parameter as a command-line option, typed from the IDL: text, flags and integers as plain
 * values, string maps as repeated {@code key=value} (or one JSON object), string lists as repeated values
 * (or one JSON array), anything else (records, variants, other maps) as JSON text decoded with the wire codec.
 *
 * @param param    the IDL parameter
 * @param longName the option's name, {@code --} plus the wire name in kebab case
 * @param kind     how the text is read
 */
record ParamOption(MethodDescriptor.ParamSpec param, String longName, Kind kind) {

    /** How an option's text becomes a value. */
    enum Kind {
        TEXT, FLAG, INTEGER, FLOAT, STRING_MAP, STRING_LIST,
        /** a plain record: repeated {@code field=value} (typed by the field) and/or JSON objects, merged */
        RECORD,
        JSON
    }

    /** The option for a parameter; {@code --param-<name>} when the plain name is taken by a common option. */
    static ParamOption of(MethodDescriptor.ParamSpec p, Set<String> reserved) {
        String name = "--" + p.name().replace('_', '-');
        if (reserved.contains(name)) {
            name = "--param-" + p.name().replace('_', '-');
        }
        return new ParamOption(p, name, kindOf(p.type()));
    }

    static Kind kindOf(Type t) {
        if (t == String.class) {
            return Kind.TEXT;
        }
        if (t == boolean.class || t == Boolean.class) {
            return Kind.FLAG;
        }
        if (t == long.class || t == Long.class || t == int.class || t == Integer.class) {
            return Kind.INTEGER;
        }
        if (t == double.class || t == Double.class) {
            return Kind.FLOAT;
        }
        if (t instanceof ParameterizedType p) {
            Type[] args = p.getActualTypeArguments();
            if (p.getRawType() == Map.class && args[1] == String.class) {
                return Kind.STRING_MAP;
            }
            if (p.getRawType() == List.class && args[0] == String.class) {
                return Kind.STRING_LIST;
            }
        }
        if (t instanceof Class<?> c && c.isRecord() && !c.isAnnotationPresent(WireTuple.class)
                && java.util.Arrays.stream(c.getInterfaces()).noneMatch(Class::isSealed)) {
            return Kind.RECORD;
        }
        return Kind.JSON;
    }

    /**
     * Whether the option may be left out. Optional parameters may; so may flags (false), string maps and lists
     * (empty) and {@code name_description} (empty), the values an operator nearly always means.
     */
    boolean omittable() {
        return param.optional() || kind == Kind.FLAG || kind == Kind.STRING_MAP || kind == Kind.STRING_LIST
                || param.name().equals("name_description");
    }

    /** The picocli option. */
    OptionSpec spec() {
        OptionSpec.Builder b = OptionSpec.builder(longName)
                .required(!omittable())
                .description(description());
        switch (kind) {
            case FLAG -> b.type(boolean.class).arity("0..1").paramLabel("<true|false>");
            case STRING_MAP -> b.type(List.class).auxiliaryTypes(String.class).arity("1").paramLabel("<key=value>");
            case STRING_LIST -> b.type(List.class).auxiliaryTypes(String.class).arity("1").paramLabel("<item>");
            case RECORD -> b.type(List.class).auxiliaryTypes(String.class).arity("1").paramLabel("<field=value|json>");
            default -> b.type(String.class).arity("1").paramLabel(label());
        }
        return b.build();
    }

    private String label() {
        return switch (kind) {
            case INTEGER -> "<int>";
            case FLOAT -> "<number>";
            case JSON -> "<json>";
            default -> "<" + param.name() + ">";
        };
    }

    private String description() {
        String what = switch (kind) {
            case TEXT -> "text";
            case FLAG -> "flag (alone means true)";
            case INTEGER -> "integer; K/M/G/T suffixes are binary units";
            case FLOAT -> "number";
            case STRING_MAP -> "key=value, repeatable, or one JSON object";
            case STRING_LIST -> "repeatable, or one JSON array";
            case RECORD -> typeName(param.type()) + ": field=value, repeatable, and/or JSON objects"
                    + (param.type() == VdiInfo.class ? "; vdi defaults to \"\"" : "");
            case JSON -> typeName(param.type()) + " as JSON";
        };
        String when = param.optional() ? "optional" : omittable() ? "default " + defaultText() : "required";
        return "wire '" + param.name() + "': " + what + " (" + when + ")";
    }

    private String defaultText() {
        return switch (kind) {
            case FLAG -> "false";
            case STRING_MAP -> "{}";
            case STRING_LIST -> "[]";
            default -> "\"\"";
        };
    }

    /** The OCaml-ish name of an IDL type, for help text ({@code vdi_info}, {@code (string * vdi_info) list}). */
    static String typeName(Type t) {
        if (t instanceof Class<?> c) {
            if (c == Void.class || c == void.class) {
                return "unit";
            }
            if (c.isPrimitive() || Number.class.isAssignableFrom(c) || c == Boolean.class) {
                return c == long.class || c == Long.class ? "int64" : c == int.class || c == Integer.class ? "int"
                        : c == boolean.class || c == Boolean.class ? "bool" : "float";
            }
            return c == String.class ? "string" : WireCodec.snakeCase(c.getSimpleName());
        }
        if (t instanceof ParameterizedType p) {
            Type[] a = p.getActualTypeArguments();
            if (p.getRawType() == Map.class) {
                return "{string: " + typeName(a[1]) + "}";
            }
            if (p.getRawType() == List.class) {
                return typeName(a[0]) + " list";
            }
            if (p.getRawType() == Optional.class) {
                return typeName(a[0]) + " option";
            }
        }
        return t.getTypeName();
    }

    /**
     * The Java argument for this parameter from the option's matched value (null when absent), wrapped in
     * {@code Optional} for an optional parameter. @throws UsageError naming the option when the text does not fit
     */
    Object toArgument(Object matched) {
        Object value = matched == null ? defaultValue() : convert(matched);
        if (param.optional()) {
            return Optional.ofNullable(value);
        }
        if (value == null) {
            throw new UsageError("missing required option " + longName);
        }
        return value;
    }

    private Object defaultValue() {
        if (param.optional()) {
            return null;
        }
        return switch (kind) {
            case FLAG -> Boolean.FALSE;
            case STRING_MAP -> Map.of();
            case STRING_LIST -> List.of();
            case TEXT -> param.name().equals("name_description") ? "" : null;
            default -> null;
        };
    }

    @SuppressWarnings("unchecked")
    private Object convert(Object matched) {
        Type t = param.type();
        return switch (kind) {
            case TEXT -> matched;
            case FLAG -> matched;
            case INTEGER -> {
                long n = Units.parseInteger(longName, (String) matched);
                if (t == int.class || t == Integer.class) {
                    if (n < Integer.MIN_VALUE || n > Integer.MAX_VALUE) {
                        throw new UsageError(longName + ": " + n + " is out of range for a 32-bit integer");
                    }
                    yield (int) n;
                }
                yield n;
            }
            case FLOAT -> {
                try {
                    yield Double.parseDouble((String) matched);
                } catch (NumberFormatException e) {
                    throw new UsageError(longName + ": expected a number, got '" + matched + "'");
                }
            }
            case STRING_MAP -> stringMap((List<String>) matched);
            case STRING_LIST -> stringList((List<String>) matched);
            case RECORD -> record((List<String>) matched);
            case JSON -> json((String) matched);
        };
    }

    private Map<String, String> stringMap(List<String> items) {
        Map<String, String> map = new LinkedHashMap<>();
        for (String item : items) {
            if (item.trim().startsWith("{")) {
                Map<String, String> parsed = decode(parse(item), param.type());
                map.putAll(parsed);
                continue;
            }
            int eq = item.indexOf('=');
            if (eq <= 0) {
                throw new UsageError(longName + ": expected key=value or a JSON object, got '" + item + "'");
            }
            map.put(item.substring(0, eq), item.substring(eq + 1));
        }
        return map;
    }

    private List<String> stringList(List<String> items) {
        List<String> list = new ArrayList<>();
        for (String item : items) {
            if (item.trim().startsWith("[")) {
                List<String> parsed = decode(parse(item), param.type());
                list.addAll(parsed);
            } else {
                list.add(item);
            }
        }
        return list;
    }

    /** Field assignments and JSON objects merged left to right into one record, then decoded with its defaults. */
    private Object record(List<String> items) {
        Class<?> type = (Class<?>) param.type();
        ObjectNode merged = Json.NODES.objectNode();
        for (String item : items) {
            if (item.trim().startsWith("{")) {
                JsonNode node = parse(item);
                merged.setAll((ObjectNode) node);
                continue;
            }
            int eq = item.indexOf('=');
            if (eq <= 0) {
                throw new UsageError(longName + ": expected field=value or a JSON object, got '" + item + "'");
            }
            String field = item.substring(0, eq);
            RecordComponent rc = component(type, field);
            merged.set(wireName(rc), fieldValue(field, rc.getGenericType(), item.substring(eq + 1)));
        }
        if (type == VdiInfo.class && !merged.has("vdi")) {
            // on create the backend picks the key; nobody should have to type an empty one
            merged.put("vdi", "");
        }
        return decode(merged, type);
    }

    private RecordComponent component(Class<?> type, String field) {
        List<String> names = new ArrayList<>();
        for (RecordComponent rc : type.getRecordComponents()) {
            if (wireName(rc).equalsIgnoreCase(field.replace('-', '_'))) {
                return rc;
            }
            names.add(wireName(rc));
        }
        throw new UsageError(longName + ": " + typeName(type) + " has no field '" + field + "' (fields: "
                + String.join(", ", names) + ")");
    }

    private JsonNode fieldValue(String field, Type t, String text) {
        Type inner = t instanceof ParameterizedType p && p.getRawType() == Optional.class
                ? p.getActualTypeArguments()[0] : t;
        String where = longName + " " + field;
        return switch (kindOf(inner)) {
            case TEXT -> Json.NODES.textNode(text);
            case INTEGER -> Json.NODES.numberNode(Units.parseInteger(where, text));
            case FLAG -> {
                if (!text.equals("true") && !text.equals("false")) {
                    throw new UsageError(where + ": expected true or false, got '" + text + "'");
                }
                yield Json.NODES.booleanNode(Boolean.parseBoolean(text));
            }
            case FLOAT -> {
                try {
                    yield Json.NODES.numberNode(Double.parseDouble(text));
                } catch (NumberFormatException e) {
                    throw new UsageError(where + ": expected a number, got '" + text + "'");
                }
            }
            case STRING_LIST -> {
                ArrayNode a = Json.NODES.arrayNode();
                if (!text.isEmpty()) {
                    for (String x : text.split(",", -1)) {
                        a.add(x);
                    }
                }
                yield a;
            }
            default -> parse(text);
        };
    }

    private static String wireName(RecordComponent rc) {
        WireName n = rc.getAnnotation(WireName.class);
        return n != null ? n.value() : WireCodec.snakeCase(rc.getName());
    }

    private Object json(String text) {
        JsonNode node;
        try {
            node = Json.parse(text);
        } catch (JsonProcessingException e) {
            // a bare word is the tag of an argument-less variant or enum case ("CopyV1" needs no quotes)
            if (text.matches("[A-Za-z][A-Za-z0-9_]*")) {
                node = Json.NODES.textNode(text);
            } else {
                throw new UsageError(longName + ": expected " + typeName(param.type()) + " as JSON: "
                        + e.getOriginalMessage());
            }
        }
        return decode(node, param.type());
    }

    private JsonNode parse(String text) {
        try {
            return Json.parse(text);
        } catch (JsonProcessingException e) {
            throw new UsageError(longName + ": invalid JSON: " + e.getOriginalMessage());
        }
    }

    private <T> T decode(JsonNode node, Type type) {
        try {
            return WireCodec.decode(node, type);
        } catch (WireException | IllegalArgumentException | NullPointerException e) {
            throw new UsageError(longName + ": not a valid " + typeName(type) + ": " + e.getMessage());
        }
    }
}
