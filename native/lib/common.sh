# Helpers shared by native/build-ort-*.sh. Sourced, not run.
# shellcheck shell=bash

ORT_VERSION=1.31.1
ORT_TAG=v1.31.1

DRY_RUN=0
FAILED_CHECKS=0

say()  { printf '%s\n' "$*"; }
step() { printf '\n== %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die()  { printf 'error: %s\n' "$*" >&2; exit 1; }

# A failed prerequisite: stops a real run; a dry run notes it, goes on, and exits 1 at the end.
check_fail() {
  if [ "$DRY_RUN" -eq 1 ]; then
    printf 'check failed (a real run stops here): %s\n' "$*" >&2
    FAILED_CHECKS=$((FAILED_CHECKS + 1))
  else
    die "$*"
  fi
}

# Prints a command in shell-quoted form; runs it unless this is a dry run.
run() {
  printf '+'
  printf ' %q' "$@"
  printf '\n'
  if [ "$DRY_RUN" -eq 0 ]; then
    "$@"
  fi
}

# Exports a variable and prints the export, in real and dry runs alike.
export_var() {
  printf '+ export %s=%q\n' "$1" "$2"
  export "$1=$2"
}

# An absolute path without requiring the path to exist (busybox realpath has no -m).
abs_path() {
  case "$1" in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s/%s\n' "$PWD" "${1#./}" ;;
  esac
}

# version_ge A B: true when version A >= version B (dotted numbers).
version_ge() {
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" = "$2" ]
}

# Value of an option whose argument may be given as '--opt VALUE' or '--opt=VALUE'.
# Usage: opt_value "$@"; sets OPT_VALUE and OPT_SHIFT (1 or 2) for the caller.
# shellcheck disable=SC2034
opt_value() {
  case "$1" in
    *=*) OPT_VALUE="${1#*=}"; OPT_SHIFT=1 ;;
    *)
      [ -n "${2-}" ] || die "$1 needs a value (see --help)"
      OPT_VALUE="$2"; OPT_SHIFT=2 ;;
  esac
}

mem_gib()  { awk '/^MemTotal:/ { printf "%d", $2 / 1048576 }' /proc/meminfo; }
swap_gib() { awk '/^SwapTotal:/ { printf "%d", $2 / 1048576 }' /proc/meminfo; }

# The ONNX Runtime checkout must be exactly v1.31.1: VERSION_NUMBER says 1.31.1 and, in a git checkout, HEAD is the
# commit of tag v1.31.1. Local edits are allowed but reported.
check_ort_source() {
  local src="$1"
  if [ ! -d "$src" ]; then
    check_fail "--ort-source $src is not a directory. Clone it with:
    git clone --branch $ORT_TAG --depth 1 https://github.com/microsoft/onnxruntime $src"
    return 0
  fi
  if [ ! -f "$src/tools/ci_build/build.py" ] || [ ! -f "$src/VERSION_NUMBER" ]; then
    check_fail "$src does not look like an ONNX Runtime checkout (no tools/ci_build/build.py or VERSION_NUMBER)."
    return 0
  fi
  local version
  version="$(tr -d '[:space:]' < "$src/VERSION_NUMBER")"
  if [ "$version" != "$ORT_VERSION" ]; then
    check_fail "$src/VERSION_NUMBER says '$version', expected '$ORT_VERSION'. edged is built against the $ORT_VERSION C API;
    check out the matching tag:  git -C $src fetch --depth 1 origin tag $ORT_TAG && git -C $src checkout $ORT_TAG"
    return 0
  fi
  if [ -e "$src/.git" ]; then
    command -v git >/dev/null 2>&1 || { check_fail "$src is a git checkout but git is not installed (build.py needs it)."; return 0; }
    local head tag
    head="$(git -C "$src" rev-parse HEAD 2>/dev/null || true)"
    tag="$(git -C "$src" rev-parse -q --verify "refs/tags/$ORT_TAG^{commit}" 2>/dev/null || true)"
    if [ -z "$tag" ]; then
      check_fail "$src has no tag $ORT_TAG. Fetch and check it out:
    git -C $src fetch --depth 1 origin tag $ORT_TAG && git -C $src checkout $ORT_TAG"
      return 0
    fi
    if [ "$head" != "$tag" ]; then
      check_fail "$src is at ${head:0:12}, not at tag $ORT_TAG (${tag:0:12}). Run:  git -C $src checkout $ORT_TAG"
      return 0
    fi
    if [ -n "$(git -C "$src" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
      warn "$src has local modifications to tracked files; they go into the build."
    fi
    say "ok  ONNX Runtime source $src: tag $ORT_TAG (${head:0:12})"
  else
    warn "$src is not a git checkout; only VERSION_NUMBER ($version) was checked."
  fi
}

# build.py needs Python 3.10+ (its argument module uses match statements) and the CMake version that the source's
# cmake/CMakeLists.txt asks for.
check_build_tools() {
  local src="$1"
  if command -v python3 >/dev/null 2>&1; then
    if python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'; then
      say "ok  $(python3 --version 2>&1)"
    else
      check_fail "$(python3 --version 2>&1) is too old; ONNX Runtime's build.py needs Python 3.10 or newer."
    fi
  else
    check_fail "python3 is missing (sudo apt-get install -y python3)."
  fi

  local need="" have=""
  if [ -f "$src/cmake/CMakeLists.txt" ]; then
    need="$(sed -n 's/^[[:space:]]*cmake_minimum_required[[:space:]]*([[:space:]]*VERSION[[:space:]]*\([0-9.]*\).*/\1/p' "$src/cmake/CMakeLists.txt" | head -n 1)"
  fi
  if command -v cmake >/dev/null 2>&1; then
    have="$(cmake --version | sed -n 's/^cmake version \([0-9.]*\).*/\1/p')"
    if [ -n "$need" ] && ! version_ge "$have" "$need"; then
      check_fail "cmake $have is older than the $need that ONNX Runtime $ORT_VERSION asks for. Ubuntu 22.04's cmake is 3.22;
    get a newer one with:  python3 -m pip install --user 'cmake>=$need'  (then make sure ~/.local/bin comes first in PATH)"
    else
      say "ok  cmake $have${need:+ (ONNX Runtime asks for >= $need)}"
    fi
  else
    check_fail "cmake is missing. Install cmake${need:+ >= $need} (e.g. python3 -m pip install --user cmake)."
  fi

  if command -v ninja >/dev/null 2>&1 || command -v make >/dev/null 2>&1; then
    :
  else
    check_fail "neither make nor ninja is installed (sudo apt-get install -y build-essential)."
  fi
  command -v sha256sum >/dev/null 2>&1 || check_fail "sha256sum is missing (coreutils)."
}

# True when FILE is a 64-bit little-endian Arm (aarch64) ELF: e_machine at offset 18 is 0xb7 0x00.
is_aarch64_elf() {
  local machine
  machine="$(od -An -t x1 -j 18 -N 2 "$1" 2>/dev/null | tr -d ' \n')"
  [ "$machine" = "b700" ]
}

# Removes what an earlier run of these scripts put in OUT, so no stale library survives into a package.
clean_out_dir() {
  local out="$1" f
  run mkdir -p "$out"
  [ -d "$out" ] || return 0
  for f in "$out"/libonnxruntime*.so* "$out"/libQnn*.so "$out"/SHA256SUMS "$out"/BUILDINFO; do
    if [ -e "$f" ] || [ -L "$f" ]; then
      run rm -f "$f"
    fi
  done
}

# Copies libonnxruntime.so and its versioned names (symlinks kept as symlinks) plus the named provider libraries
# from the build's configuration folder, and checks that each required file is there and is aarch64.
copy_ort_libs() {
  local from="$1" out="$2"
  shift 2
  if [ "$DRY_RUN" -eq 1 ]; then
    say "+ cp -P $from/libonnxruntime.so* $out/"
    local lib
    for lib in "$@"; do
      [ "$lib" = libonnxruntime.so ] || say "+ cp -P $from/$lib $out/"
    done
    return 0
  fi
  local f lib
  for f in "$from"/libonnxruntime.so*; do
    [ -e "$f" ] || die "no libonnxruntime.so* in $from: did the build finish? (see the build output above)"
    run cp -P "$f" "$out/"
  done
  for lib in "$@"; do
    if [ "$lib" != libonnxruntime.so ]; then
      [ -e "$from/$lib" ] || die "$from/$lib is missing: the build did not produce it (check the --use_* flags and the build output)."
      run cp -P "$from/$lib" "$out/"
    fi
    [ -e "$out/$lib" ] || die "$out/$lib is missing after the copy."
    is_aarch64_elf "$out/$lib" || die "$out/$lib is not an aarch64 ELF library; it cannot run on the board."
  done
}

# SHA256SUMS over every regular file in OUT (symlinks point at files that are listed).
write_sha256sums() {
  local out="$1"
  if [ "$DRY_RUN" -eq 1 ]; then
    say "+ (cd $out && sha256sum <every regular file> > SHA256SUMS)"
    return 0
  fi
  (
    cd "$out" || exit 1
    local files=() f
    for f in *; do
      if [ -f "$f" ] && [ ! -L "$f" ] && [ "$f" != SHA256SUMS ]; then
        files+=("$f")
      fi
    done
    sha256sum -- "${files[@]}" > SHA256SUMS
  )
  say "wrote $out/SHA256SUMS:"
  sed 's/^/    /' "$out/SHA256SUMS"
}

finish() {
  local out="$1"
  if [ "$DRY_RUN" -eq 1 ]; then
    if [ "$FAILED_CHECKS" -gt 0 ]; then
      say ""
      say "dry run: $FAILED_CHECKS check(s) failed; a real run would have stopped at the first one."
      exit 1
    fi
    say ""
    say "dry run: all checks passed; nothing was built or copied."
    exit 0
  fi
  say ""
  say "done: $out"
  ls -l "$out"
}
