#!/usr/bin/env bash
# Builds libonnxruntime.so 1.31.1 for aarch64 Linux with the QNN execution provider (Qualcomm Hexagon NPU, "HTP"),
# and gathers it with the QNN runtime libraries from the QAIRT SDK into one folder for 'build.ps1 package'.
# See native/README.md. Written for Qualcomm boards such as the QCS6490 (RB3 Gen 2, HTP v68); not run in this repo's
# CI or on the machine it was written on (no QAIRT SDK there).
#
# ONNX Runtime build.py flags used here, checked against tools/ci_build/build.py and build_args.py of a recent
# ONNX Runtime; re-check them against the v1.31.1 checkout (python3 tools/ci_build/build.py --help) before relying on
# this script:
#   --use_qnn shared_lib   the QNN EP as libonnxruntime_providers_qnn.so (the default kind when --use_qnn has no value)
#   --qnn_home DIR         the QAIRT SDK root (holds include/QNN and lib/<abi>)
#   --build_shared_lib --config Release --update --build --parallel N --skip_tests
#   --compile_no_warning_as_error   newer compilers add warnings that the Release build would otherwise treat as errors
#   --allow_running_as_root         Linux only; build.py refuses to run as root without it
#   --path_to_protoc_exe FILE       only with --protoc
#   --cmake_extra_defines K=V ...   CMake cache entries; must stay the last build.py argument (it takes the rest)
# Not used: --arm64. In recent build.py it is a Windows-only cross-compile switch; a Linux cross-build goes through
# CMAKE_TOOLCHAIN_FILE instead (native/toolchains/aarch64-linux-gnu.cmake).
# CMake entries to double-check: QNN_ARCH_ABI (which lib/<abi> folder of the SDK ONNX Runtime links and copies;
# recent cmake/ honours a preset value and otherwise picks aarch64-ubuntu-gcc9.4 on Linux aarch64) and
# onnxruntime_BUILD_UNIT_TESTS=OFF (skips building the tests, which --skip_tests alone does not).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=lib/common.sh
source "$HERE/lib/common.sh"

usage() {
  cat <<EOF
Usage: native/build-ort-qnn.sh --ort-source DIR [--qairt DIR] [options]

Builds ONNX Runtime $ORT_VERSION (libonnxruntime.so) for aarch64 Linux with the QNN execution provider and copies it,
with the QNN runtime libraries the board needs, into one folder:
  libonnxruntime.so*  libonnxruntime_providers_shared.so  libonnxruntime_providers_qnn.so
  libQnnHtp.so  libQnnHtpV<arch>Stub.so  libQnnHtpPrepare.so  libQnnSystem.so  (libQnnCpu.so when the SDK has it)
  libQnnHtpV<arch>Skel.so (Hexagon side, from lib/hexagon-v<arch>/unsigned)
  SHA256SUMS  BUILDINFO

Required:
  --ort-source DIR     ONNX Runtime checkout at tag $ORT_TAG, cloned by you:
                         git clone --branch $ORT_TAG --depth 1 https://github.com/microsoft/onnxruntime DIR
  --qairt DIR          Qualcomm AI Runtime (QAIRT) SDK root; default: \$QNN_SDK_ROOT

Options:
  --out DIR            output folder (default: native/out/qnn-aarch64)
  --htp-arch N         Hexagon HTP version: 68 for QCS6490/QCM6490 (RB3 Gen 2) (default: 68)
  --qnn-abi NAME       SDK library folder lib/NAME matching the board's OS (default: aarch64-ubuntu-gcc9.4;
                       use aarch64-oe-linux-gcc11.2 for Qualcomm Linux / Yocto images)
  --native             build on the aarch64 board itself (default on an aarch64 host)
  --cross              cross-build on an x86-64 host (default on an x86-64 host)
  --toolchain-file F   CMake toolchain file for --cross (default: native/toolchains/aarch64-linux-gnu.cmake)
  --cross-prefix P     compiler prefix for the default toolchain file (default: aarch64-linux-gnu-)
  --sysroot DIR        target root file system for the default toolchain file (recommended: a copy of the board's /)
  --protoc FILE        host protoc for --cross (default: ONNX Runtime's CMake fetches a prebuilt host protoc)
  --build-dir DIR      build tree (default: <ort-source>/build/edgeruntime-qnn-aarch64)
  --parallel N         compile jobs (default: CPUs, at most one per 2 GiB of RAM)
  --cmake-define K=V   extra CMake cache entry for ONNX Runtime; repeatable
  --dry-run            run the checks and print the commands without building or copying
  -h, --help           this text

The build downloads ONNX Runtime's CMake dependencies (cmake/deps.txt), so it needs network access.
Examples:
  # on the board (Ubuntu on RB3 Gen 2)
  native/build-ort-qnn.sh --ort-source ~/onnxruntime --qairt /path/to/qairt/<version>
  # on an x86-64 host, against a copy of the board's root file system
  sudo apt-get install -y g++-aarch64-linux-gnu
  native/build-ort-qnn.sh --cross --sysroot ~/rb3-rootfs --ort-source ~/onnxruntime --qairt ~/qairt/<version>
EOF
}

QAIRT="${QNN_SDK_ROOT-}"
ORT_SRC=""
OUT="$HERE/out/qnn-aarch64"
HTP_ARCH=68
QNN_ABI=aarch64-ubuntu-gcc9.4
MODE=auto
TOOLCHAIN=""
CROSS_PREFIX=aarch64-linux-gnu-
SYSROOT=""
PROTOC=""
BUILD_DIR=""
JOBS=""
EXTRA_DEFINES=()

while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --dry-run) DRY_RUN=1; shift ;;
    --native) MODE=native; shift ;;
    --cross) MODE=cross; shift ;;
    --qairt|--qairt=*) opt_value "$@"; QAIRT="$OPT_VALUE"; shift "$OPT_SHIFT" ;;
    --ort-source|--ort-source=*) opt_value "$@"; ORT_SRC="$OPT_VALUE"; shift "$OPT_SHIFT" ;;
    --out|--out=*) opt_value "$@"; OUT="$OPT_VALUE"; shift "$OPT_SHIFT" ;;
    --htp-arch|--htp-arch=*) opt_value "$@"; HTP_ARCH="$OPT_VALUE"; shift "$OPT_SHIFT" ;;
    --qnn-abi|--qnn-abi=*) opt_value "$@"; QNN_ABI="$OPT_VALUE"; shift "$OPT_SHIFT" ;;
    --toolchain-file|--toolchain-file=*) opt_value "$@"; TOOLCHAIN="$OPT_VALUE"; MODE=cross; shift "$OPT_SHIFT" ;;
    --cross-prefix|--cross-prefix=*) opt_value "$@"; CROSS_PREFIX="$OPT_VALUE"; shift "$OPT_SHIFT" ;;
    --sysroot|--sysroot=*) opt_value "$@"; SYSROOT="$OPT_VALUE"; shift "$OPT_SHIFT" ;;
    --protoc|--protoc=*) opt_value "$@"; PROTOC="$OPT_VALUE"; shift "$OPT_SHIFT" ;;
    --build-dir|--build-dir=*) opt_value "$@"; BUILD_DIR="$OPT_VALUE"; shift "$OPT_SHIFT" ;;
    --parallel|--parallel=*) opt_value "$@"; JOBS="$OPT_VALUE"; shift "$OPT_SHIFT" ;;
    --cmake-define|--cmake-define=*) opt_value "$@"; EXTRA_DEFINES+=("$OPT_VALUE"); shift "$OPT_SHIFT" ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

# --- Arguments -------------------------------------------------------------------------------------------------------
[ -n "$ORT_SRC" ] || die "--ort-source DIR is required: an ONNX Runtime checkout at tag $ORT_TAG (see --help)."
[ -n "$QAIRT" ] || die "the QAIRT SDK is required: pass --qairt DIR or set QNN_SDK_ROOT (see --help)."
if ! [[ "$HTP_ARCH" =~ ^[0-9]{2}$ ]] || [ "$HTP_ARCH" -lt 68 ]; then
  die "--htp-arch must be the HTP version number, 68 or higher (68 for QCS6490); got '$HTP_ARCH'."
fi
[[ "$QNN_ABI" =~ ^aarch64- ]] || die "--qnn-abi must name an aarch64 library folder of the SDK; got '$QNN_ABI'."
if [ -n "$JOBS" ]; then
  [[ "$JOBS" =~ ^[1-9][0-9]*$ ]] || die "--parallel must be a positive number; got '$JOBS'."
fi
for define in "${EXTRA_DEFINES[@]}"; do
  [[ "$define" == ?*=* ]] || die "--cmake-define takes KEY=VALUE; got '$define'."
done

HOST_ARCH="$(uname -m)"
if [ "$MODE" = auto ]; then
  case "$HOST_ARCH" in
    aarch64|arm64) MODE=native ;;
    x86_64|amd64) MODE=cross ;;
    *) die "host architecture $HOST_ARCH: pass --native (on the aarch64 board) or --cross (x86-64 host)." ;;
  esac
fi
if [ "$MODE" = native ] && [ "$HOST_ARCH" != aarch64 ] && [ "$HOST_ARCH" != arm64 ]; then
  die "--native builds for the machine it runs on, and this one is $HOST_ARCH; use --cross on an x86-64 host."
fi

ORT_SRC="$(abs_path "$ORT_SRC")"
QAIRT="$(abs_path "$QAIRT")"
OUT="$(abs_path "$OUT")"
BUILD_DIR="$(abs_path "${BUILD_DIR:-$ORT_SRC/build/edgeruntime-qnn-aarch64}")"
DEFAULT_TOOLCHAIN=0
if [ "$MODE" = cross ]; then
  if [ -z "$TOOLCHAIN" ]; then
    TOOLCHAIN="$HERE/toolchains/aarch64-linux-gnu.cmake"
    DEFAULT_TOOLCHAIN=1
  fi
  TOOLCHAIN="$(abs_path "$TOOLCHAIN")"
  [ -z "$SYSROOT" ] || SYSROOT="$(abs_path "$SYSROOT")"
  [ -z "$PROTOC" ] || PROTOC="$(abs_path "$PROTOC")"
else
  [ -z "$SYSROOT" ] || die "--sysroot applies to --cross only."
fi
if [ -z "$JOBS" ]; then
  cpus="$(nproc)"
  by_memory=$(( $(mem_gib) / 2 ))
  [ "$by_memory" -ge 1 ] || by_memory=1
  JOBS=$(( cpus < by_memory ? cpus : by_memory ))
fi

QNN_LIB_DIR="$QAIRT/lib/$QNN_ABI"
SKEL_DIR="$QAIRT/lib/hexagon-v$HTP_ARCH/unsigned"
QNN_HOST_LIBS=(libQnnHtp.so "libQnnHtpV${HTP_ARCH}Stub.so" libQnnHtpPrepare.so libQnnSystem.so)
QNN_OPTIONAL_LIBS=(libQnnCpu.so)
QNN_SKEL="libQnnHtpV${HTP_ARCH}Skel.so"
ORT_LIBS=(libonnxruntime.so libonnxruntime_providers_shared.so libonnxruntime_providers_qnn.so)

QAIRT_VERSION="unknown"
if [ -f "$QAIRT/sdk.yaml" ]; then
  QAIRT_VERSION="$(sed -n 's/^[[:space:]]*version:[[:space:]]*//p' "$QAIRT/sdk.yaml" | head -n 1)"
  QAIRT_VERSION="${QAIRT_VERSION:-unknown}"
fi

# --- Plan ------------------------------------------------------------------------------------------------------------
step "ONNX Runtime $ORT_VERSION with the QNN execution provider, for aarch64 Linux"
say "  mode          $MODE build on $HOST_ARCH$([ "$MODE" = cross ] && printf ', toolchain %s' "$TOOLCHAIN")"
[ -z "$SYSROOT" ] || say "  sysroot       $SYSROOT"
say "  ORT source    $ORT_SRC"
say "  QAIRT SDK     $QAIRT (version $QAIRT_VERSION)"
say "  QNN libraries $QNN_LIB_DIR, HTP v$HTP_ARCH"
say "  build dir     $BUILD_DIR (Release, $JOBS jobs)"
say "  output        $OUT"
[ "$DRY_RUN" -eq 0 ] || say "  dry run: checks run, commands are printed and not executed"

# --- Checks ----------------------------------------------------------------------------------------------------------
step "Checking prerequisites"
check_ort_source "$ORT_SRC"

if [ ! -d "$QAIRT" ]; then
  check_fail "QAIRT SDK folder $QAIRT does not exist. Install the Qualcomm AI Runtime SDK (from Qualcomm's software
    center) and pass its root, the folder holding include/QNN and lib/, as --qairt or QNN_SDK_ROOT."
else
  if [ -f "$QAIRT/include/QNN/QnnInterface.h" ]; then
    say "ok  QAIRT headers $QAIRT/include/QNN"
  else
    check_fail "$QAIRT/include/QNN/QnnInterface.h is missing: --qairt must be the SDK root (with include/QNN and lib/)."
  fi
  if [ ! -d "$QNN_LIB_DIR" ]; then
    abis=""
    for dir in "$QAIRT"/lib/aarch64-*/; do
      [ -d "$dir" ] && abis+="${abis:+ }$(basename "$dir")"
    done
    check_fail "$QNN_LIB_DIR does not exist; this SDK has these aarch64 library folders: ${abis:-none}. Pass one with --qnn-abi."
  else
    libs_ok=1
    for lib in "${QNN_HOST_LIBS[@]}"; do
      if [ ! -f "$QNN_LIB_DIR/$lib" ]; then
        check_fail "$QNN_LIB_DIR/$lib is missing (does this SDK support HTP v$HTP_ARCH on $QNN_ABI?)."
        libs_ok=0
      elif ! is_aarch64_elf "$QNN_LIB_DIR/$lib"; then
        check_fail "$QNN_LIB_DIR/$lib is not an aarch64 library."
        libs_ok=0
      fi
    done
    [ "$libs_ok" -eq 0 ] || say "ok  QNN libraries in $QNN_LIB_DIR: ${QNN_HOST_LIBS[*]}"
  fi
  if [ -f "$SKEL_DIR/$QNN_SKEL" ]; then
    say "ok  Hexagon skel $SKEL_DIR/$QNN_SKEL"
  else
    check_fail "$SKEL_DIR/$QNN_SKEL is missing: the SDK has no HTP v$HTP_ARCH skel (check --htp-arch; QCS6490 is 68)."
  fi
fi

check_build_tools "$ORT_SRC"

if [ "$MODE" = native ]; then
  for tool in gcc g++; do
    command -v "$tool" >/dev/null 2>&1 || check_fail "$tool is missing (sudo apt-get install -y build-essential)."
  done
  command -v g++ >/dev/null 2>&1 && say "ok  $(g++ --version | head -n 1)"
else
  if [ ! -f "$TOOLCHAIN" ]; then
    check_fail "toolchain file $TOOLCHAIN does not exist."
  fi
  if [ "$DEFAULT_TOOLCHAIN" -eq 1 ]; then
    for tool in "${CROSS_PREFIX}gcc" "${CROSS_PREFIX}g++"; do
      command -v "$tool" >/dev/null 2>&1 \
        || check_fail "$tool is missing. On Debian/Ubuntu: sudo apt-get install -y g++-aarch64-linux-gnu (or pass --cross-prefix)."
    done
    command -v "${CROSS_PREFIX}g++" >/dev/null 2>&1 && say "ok  $("${CROSS_PREFIX}g++" --version | head -n 1)"
  fi
  if [ -n "$SYSROOT" ]; then
    if [ -d "$SYSROOT/usr/lib" ] || [ -d "$SYSROOT/lib" ]; then
      say "ok  sysroot $SYSROOT"
    else
      check_fail "--sysroot $SYSROOT has no usr/lib or lib: it should be a copy of the board's root file system."
    fi
  elif [ "$DEFAULT_TOOLCHAIN" -eq 1 ]; then
    warn "no --sysroot: the library links against the cross toolchain's glibc and libstdc++. The board's must be at
    least as new (compare 'ldd --version' on the board with the toolchain's), or loading fails with a
    'GLIBC_2.xx not found' / 'GLIBCXX_3.4.xx not found' error. A sysroot copied from the board avoids this."
  fi
  if [ -n "$PROTOC" ] && [ ! -x "$PROTOC" ]; then
    check_fail "--protoc $PROTOC is not an executable file."
  fi
fi

if [ "$(mem_gib)" -lt $((JOBS * 2)) ]; then
  warn "$(mem_gib) GiB of RAM for $JOBS jobs: the compiler may be killed for lack of memory. Add swap or lower --parallel."
fi

# --- Build -----------------------------------------------------------------------------------------------------------
step "Building ONNX Runtime (this takes a long time: tens of minutes on a workstation, hours on the board)"
if [ "$MODE" = cross ] && [ "$DEFAULT_TOOLCHAIN" -eq 1 ]; then
  export_var EDGE_AARCH64_PREFIX "$CROSS_PREFIX"
  export_var EDGE_AARCH64_SYSROOT "$SYSROOT"
fi

build=(python3 "$ORT_SRC/tools/ci_build/build.py"
  --build_dir "$BUILD_DIR"
  --config Release
  --update --build
  --build_shared_lib
  --parallel "$JOBS"
  --skip_tests
  --compile_no_warning_as_error
  --use_qnn shared_lib
  --qnn_home "$QAIRT")
if [ "$(id -u)" -eq 0 ]; then
  build+=(--allow_running_as_root)
fi
if [ -n "$PROTOC" ]; then
  build+=(--path_to_protoc_exe "$PROTOC")
fi
defines=("QNN_ARCH_ABI=$QNN_ABI" "onnxruntime_BUILD_UNIT_TESTS=OFF")
if [ "$MODE" = cross ]; then
  defines+=("CMAKE_TOOLCHAIN_FILE=$TOOLCHAIN")
fi
defines+=("${EXTRA_DEFINES[@]}")
build+=(--cmake_extra_defines "${defines[@]}")
run "${build[@]}"

# --- Collect ---------------------------------------------------------------------------------------------------------
step "Collecting the libraries into $OUT"
clean_out_dir "$OUT"
copy_ort_libs "$BUILD_DIR/Release" "$OUT" "${ORT_LIBS[@]}"
for lib in "${QNN_HOST_LIBS[@]}"; do
  run cp "$QNN_LIB_DIR/$lib" "$OUT/"
done
for lib in "${QNN_OPTIONAL_LIBS[@]}"; do
  if [ -f "$QNN_LIB_DIR/$lib" ]; then
    run cp "$QNN_LIB_DIR/$lib" "$OUT/"
  fi
done
run cp "$SKEL_DIR/$QNN_SKEL" "$OUT/"

if [ "$DRY_RUN" -eq 1 ]; then
  say "+ write $OUT/BUILDINFO"
else
  {
    printf 'onnxruntime %s (tag %s, commit %s)\n' "$ORT_VERSION" "$ORT_TAG" \
      "$(git -C "$ORT_SRC" rev-parse HEAD 2>/dev/null || printf 'not a git checkout')"
    printf 'execution providers: QNN (shared_lib), CPU\n'
    printf 'qairt sdk: %s (version %s)\n' "$QAIRT" "$QAIRT_VERSION"
    printf 'qnn libraries: lib/%s, htp v%s\n' "$QNN_ABI" "$HTP_ARCH"
    printf 'build: %s on %s%s\n' "$MODE" "$(uname -srm)" "$([ "$MODE" = cross ] && printf ', toolchain %s, sysroot %s' "$TOOLCHAIN" "${SYSROOT:-none}")"
    printf 'built: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  } > "$OUT/BUILDINFO"
fi
write_sha256sums "$OUT"

finish "$OUT"
