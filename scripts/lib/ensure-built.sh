# Sourced by the scripts in scripts/: builds a module (and what it depends on) when its jar or
# runtime jars are missing, or when any main source or pom changed since this helper last built it.
# Usage: ensure_built <module>   (sets $jar and $lib for the caller)
ensure_built() {
  local module="$1"
  local stamp="$root/$module/target/.built-by-script"
  jar="$root/$module/target/$module-0.1.0-SNAPSHOT.jar"
  lib="$root/$module/target/lib"
  local needs_build=0
  if [ ! -f "$jar" ] || [ ! -d "$lib" ] || [ ! -f "$stamp" ]; then
    needs_build=1
  elif [ -n "$(find "$root" \( -path "$root/var" -o -name target -o -name .git \) -prune -o \
        \( -path '*/src/main/*' -o -name pom.xml \) -type f -newer "$stamp" -print -quit 2>/dev/null)" ]; then
    needs_build=1
  fi
  if [ "$needs_build" = 1 ]; then
    command -v mvn >/dev/null || { echo "$(basename "$0"): Maven (mvn) is needed to build $module" >&2; exit 2; }
    echo "building $module..." >&2
    (cd "$root" && mvn -B -q -DskipTests -pl "$module" -am package) >&2
    touch "$stamp"
  fi
}
