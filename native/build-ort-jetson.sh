#!/usr/bin/env bash
# Builds libonnxruntime.so 1.31.1 with the CUDA and TensorRT execution providers natively on an NVIDIA Jetson
# (Orin Nano and the rest of the Orin family, JetPack 6.1/6.2: CUDA 12.x, cuDNN 9, TensorRT 10), and gathers the
# libraries into one folder for 'build.ps1 package'. See native/README.md. Not run in this repo's CI or on the machine
# it was written on (no Jetson there).
#
# ONNX Runtime build.py flags used here, checked against tools/ci_build/build.py and build_args.py of a recent
# ONNX Runtime; re-check them against the v1.31.1 checkout (python3 tools/ci_build/build.py --help):
#   --use_cuda --cuda_home DIR --cudnn_home DIR    CUDA EP (libonnxruntime_providers_cuda.so)
#   --use_tensorrt --tensorrt_home DIR             TensorRT EP (libonnxruntime_providers_tensorrt.so), with
#                                                  TensorRT's own ONNX parser (the default; --use_tensorrt_oss_parser
#                                                  would build the open-source one instead)
#   --nvcc_threads N                               threads per nvcc process (build.py's default is 4)
#   --build_shared_lib --config Release --update --build --parallel N --skip_tests --compile_no_warning_as_error
#   --allow_running_as_root                        Linux only; build.py refuses to run as root without it
#   --cmake_extra_defines K=V ...                  must stay the last build.py argument (it takes the rest)
# CMake entries to double-check: CMAKE_CUDA_ARCHITECTURES=87 and onnxruntime_BUILD_UNIT_TESTS=OFF.
#
# Why CMAKE_CUDA_ARCHITECTURES=87: Orin's GPU (Ampere) has compute capability 8.7, "sm_87". nvcc puts machine code
# (SASS) into the library only for the architectures it is told to. The driver runs SASS built for X.y only on a GPU
# of the same major version X and minor version >= y, and JIT-compiles embedded PTX only for newer GPUs; when nothing
# in the library fits the GPU, the first kernel launch fails with cudaErrorNoKernelImageForDevice ("no kernel image is
# available for execution on the device"). 87 covers every Orin (Nano, NX, AGX) and keeps the build shorter and the
# library smaller than ONNX Runtime's default list; Xavier (sm_72) would need --cuda-arch 72.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=lib/common.sh
source "$HERE/lib/common.sh"

usage() {
  cat <<EOF
Usage: native/build-ort-jetson.sh --ort-source DIR [options]

Builds ONNX Runtime $ORT_VERSION (libonnxruntime.so) with the CUDA and TensorRT execution providers on the Jetson
itself and copies the result into one folder:
  libonnxruntime.so*  libonnxruntime_providers_shared.so  libonnxruntime_providers_cuda.so
  libonnxruntime_providers_tensorrt.so  SHA256SUMS  BUILDINFO
CUDA, cuDNN and TensorRT themselves are not copied: the board's JetPack provides them.

Required:
  --ort-source DIR     ONNX Runtime checkout at tag $ORT_TAG, cloned by you:
                         git clone --branch $ORT_TAG --depth 1 https://github.com/microsoft/onnxruntime DIR

Options:
  --out DIR            output folder (default: native/out/cuda-aarch64)
  --cuda-home DIR      CUDA toolkit (default: /usr/local/cuda)
  --cudnn-home DIR     cuDNN libraries (default: /usr/lib/aarch64-linux-gnu)
  --tensorrt-home DIR  TensorRT libraries (default: /usr/lib/aarch64-linux-gnu)
  --cuda-arch N        CMAKE_CUDA_ARCHITECTURES (default: 87, every Jetson Orin)
  --build-dir DIR      build tree (default: <ort-source>/build/edgeruntime-cuda-aarch64)
  --parallel N         compile jobs (default: 2 below 16 GiB of RAM, e.g. the 8 GB Orin Nano; else all CPUs)
  --nvcc-threads N     threads per nvcc process (default: 1 below 16 GiB of RAM, else 4)
  --cmake-define K=V   extra CMake cache entry for ONNX Runtime; repeatable
  --dry-run            run the checks and print the commands without building or copying
  -h, --help           this text

Memory: on an 8 GB Orin Nano, add swap before building (8 GiB or more), keep --parallel 2, and expect several
hours. Without swap the compiler is killed by the out-of-memory killer part way through.
  sudo fallocate -l 8G /swapfile && sudo chmod 600 /swapfile && sudo mkswap /swapfile && sudo swapon /swapfile
The build downloads ONNX Runtime's CMake dependencies (cmake/deps.txt), so it needs network access.
Example:
  native/build-ort-jetson.sh --ort-source ~/onnxruntime
EOF
}

ORT_SRC=""
OUT="$HERE/out/cuda-aarch64"
CUDA_HOME_DIR=/usr/local/cuda
CUDNN_HOME_DIR=/usr/lib/aarch64-linux-gnu
TRT_HOME_DIR=/usr/lib/aarch64-linux-gnu
CUDA_ARCH=87
BUILD_DIR=""
JOBS=""
NVCC_THREADS=""
EXTRA_DEFINES=()

while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --dry-run) DRY_RUN=1; shift ;;
    --ort-source|--ort-source=*) opt_value "$@"; ORT_SRC="$OPT_VALUE"; shift "$OPT_SHIFT" ;;
    --out|--out=*) opt_value "$@"; OUT="$OPT_VALUE"; shift "$OPT_SHIFT" ;;
    --cuda-home|--cuda-home=*) opt_value "$@"; CUDA_HOME_DIR="$OPT_VALUE"; shift "$OPT_SHIFT" ;;
    --cudnn-home|--cudnn-home=*) opt_value "$@"; CUDNN_HOME_DIR="$OPT_VALUE"; shift "$OPT_SHIFT" ;;
    --tensorrt-home|--tensorrt-home=*) opt_value "$@"; TRT_HOME_DIR="$OPT_VALUE"; shift "$OPT_SHIFT" ;;
    --cuda-arch|--cuda-arch=*) opt_value "$@"; CUDA_ARCH="$OPT_VALUE"; shift "$OPT_SHIFT" ;;
    --build-dir|--build-dir=*) opt_value "$@"; BUILD_DIR="$OPT_VALUE"; shift "$OPT_SHIFT" ;;
    --parallel|--parallel=*) opt_value "$@"; JOBS="$OPT_VALUE"; shift "$OPT_SHIFT" ;;
    --nvcc-threads|--nvcc-threads=*) opt_value "$@"; NVCC_THREADS="$OPT_VALUE"; shift "$OPT_SHIFT" ;;
    --cmake-define|--cmake-define=*) opt_value "$@"; EXTRA_DEFINES+=("$OPT_VALUE"); shift "$OPT_SHIFT" ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

# --- Arguments -------------------------------------------------------------------------------------------------------
[ -n "$ORT_SRC" ] || die "--ort-source DIR is required: an ONNX Runtime checkout at tag $ORT_TAG (see --help)."
[[ "$CUDA_ARCH" =~ ^[0-9]{2,3}$ ]] || die "--cuda-arch takes a compute capability without the dot, e.g. 87; got '$CUDA_ARCH'."
for value in "$JOBS" "$NVCC_THREADS"; do
  if [ -n "$value" ] && ! [[ "$value" =~ ^[1-9][0-9]*$ ]]; then
    die "--parallel and --nvcc-threads take a positive number; got '$value'."
  fi
done
for define in "${EXTRA_DEFINES[@]}"; do
  [[ "$define" == ?*=* ]] || die "--cmake-define takes KEY=VALUE; got '$define'."
done

ORT_SRC="$(abs_path "$ORT_SRC")"
OUT="$(abs_path "$OUT")"
CUDA_HOME_DIR="$(abs_path "$CUDA_HOME_DIR")"
CUDNN_HOME_DIR="$(abs_path "$CUDNN_HOME_DIR")"
TRT_HOME_DIR="$(abs_path "$TRT_HOME_DIR")"
BUILD_DIR="$(abs_path "${BUILD_DIR:-$ORT_SRC/build/edgeruntime-cuda-aarch64}")"
MEM_GIB="$(mem_gib)"
SWAP_GIB="$(swap_gib)"
if [ -z "$JOBS" ]; then
  if [ "$MEM_GIB" -lt 16 ]; then JOBS=2; else JOBS="$(nproc)"; fi
fi
if [ -z "$NVCC_THREADS" ]; then
  if [ "$MEM_GIB" -lt 16 ]; then NVCC_THREADS=1; else NVCC_THREADS=4; fi
fi
ORT_LIBS=(libonnxruntime.so libonnxruntime_providers_shared.so libonnxruntime_providers_cuda.so
  libonnxruntime_providers_tensorrt.so)

L4T_RELEASE="not a Jetson (no /etc/nv_tegra_release)"
if [ -f /etc/nv_tegra_release ]; then
  L4T_RELEASE="$(head -n 1 /etc/nv_tegra_release | sed 's/^# *//')"
fi

# --- Plan ------------------------------------------------------------------------------------------------------------
step "ONNX Runtime $ORT_VERSION with the CUDA and TensorRT execution providers, for Jetson (aarch64)"
say "  host          $(uname -m), $L4T_RELEASE, ${MEM_GIB} GiB RAM, ${SWAP_GIB} GiB swap"
say "  ORT source    $ORT_SRC"
say "  CUDA          $CUDA_HOME_DIR (CMAKE_CUDA_ARCHITECTURES=$CUDA_ARCH)"
say "  cuDNN         $CUDNN_HOME_DIR"
say "  TensorRT      $TRT_HOME_DIR"
say "  build dir     $BUILD_DIR (Release, $JOBS jobs, $NVCC_THREADS nvcc threads each)"
say "  output        $OUT"
[ "$DRY_RUN" -eq 0 ] || say "  dry run: checks run, commands are printed and not executed"

# --- Checks ----------------------------------------------------------------------------------------------------------
step "Checking prerequisites"
case "$(uname -m)" in
  aarch64|arm64) ;;
  *) check_fail "this script builds on the Jetson itself (aarch64); this machine is $(uname -m). Cross-building the CUDA
    providers is not supported by this recipe." ;;
esac
if [ ! -f /etc/nv_tegra_release ]; then
  warn "/etc/nv_tegra_release is missing: this does not look like a Jetson with JetPack (L4T)."
fi
# Every Orin module's device tree names the tegra234 SoC; its GPU is sm_87.
if [ -r /proc/device-tree/compatible ]; then
  if tr '\0' '\n' < /proc/device-tree/compatible | grep -q '^nvidia,tegra234$'; then
    [ "$CUDA_ARCH" = 87 ] || warn "this is an Orin (tegra234, sm_87) but --cuda-arch is $CUDA_ARCH: kernels will fail with cudaErrorNoKernelImageForDevice."
  elif [ "$CUDA_ARCH" = 87 ]; then
    warn "this is not an Orin (no nvidia,tegra234 in the device tree); check the GPU's compute capability against --cuda-arch 87."
  fi
fi

check_ort_source "$ORT_SRC"

# CUDA 12.x: nvcc from the toolkit that the build will use.
NVCC="$CUDA_HOME_DIR/bin/nvcc"
CUDA_VERSION="none"
if [ -x "$NVCC" ]; then
  CUDA_VERSION="$("$NVCC" --version | sed -n 's/.*release \([0-9][0-9.]*\).*/\1/p' | head -n 1)"
  case "$CUDA_VERSION" in
    12.*) say "ok  nvcc $CUDA_VERSION ($NVCC)" ;;
    *) check_fail "nvcc at $NVCC is CUDA '${CUDA_VERSION:-unknown}', expected 12.x (JetPack 6.1/6.2 ship CUDA 12.6)." ;;
  esac
else
  check_fail "$NVCC is missing. Install JetPack's CUDA toolkit:  sudo apt-get install -y nvidia-jetpack
    (or just the toolkit: sudo apt-get install -y cuda-toolkit-12-6), or pass --cuda-home."
fi

# cuDNN 9: the library in --cudnn-home and its headers.
CUDNN_LIB="$(find "$CUDNN_HOME_DIR" -maxdepth 1 -name 'libcudnn.so.9*' -print -quit 2>/dev/null || true)"
if [ -n "$CUDNN_LIB" ]; then
  say "ok  cuDNN $CUDNN_LIB"
elif [ -n "$(find "$CUDNN_HOME_DIR" -maxdepth 1 -name 'libcudnn.so.8*' -print -quit 2>/dev/null || true)" ]; then
  check_fail "$CUDNN_HOME_DIR has cuDNN 8 (JetPack 6.0); this recipe targets cuDNN 9 (ONNX Runtime's CUDA 12 builds use it): use JetPack 6.1 or 6.2."
else
  check_fail "no libcudnn.so.9 in $CUDNN_HOME_DIR. Install it:  sudo apt-get install -y nvidia-jetpack  (or libcudnn9-cuda-12
    and libcudnn9-dev-cuda-12), or pass --cudnn-home."
fi
CUDNN_HEADER=""
for dir in /usr/include /usr/include/aarch64-linux-gnu "$CUDNN_HOME_DIR/include" "$CUDNN_HOME_DIR/../include"; do
  if [ -f "$dir/cudnn.h" ]; then CUDNN_HEADER="$dir/cudnn.h"; break; fi
done
[ -n "$CUDNN_HEADER" ] || check_fail "cudnn.h is missing: install the cuDNN development package (libcudnn9-dev-cuda-12)."

# TensorRT 10: libnvinfer, its ONNX parser, and the headers.
TRT_LIB="$(find "$TRT_HOME_DIR" -maxdepth 1 -name 'libnvinfer.so.10*' -print -quit 2>/dev/null || true)"
if [ -n "$TRT_LIB" ]; then
  say "ok  TensorRT $TRT_LIB"
elif [ -n "$(find "$TRT_HOME_DIR" -maxdepth 1 -name 'libnvinfer.so.8*' -print -quit 2>/dev/null || true)" ]; then
  check_fail "$TRT_HOME_DIR has TensorRT 8 (JetPack 6.0); this recipe targets TensorRT 10: use JetPack 6.1 or 6.2."
else
  check_fail "no libnvinfer.so.10 in $TRT_HOME_DIR. Install TensorRT:  sudo apt-get install -y nvidia-jetpack  (or
    libnvinfer-dev and libnvonnxparsers-dev), or pass --tensorrt-home."
fi
if [ -z "$(find "$TRT_HOME_DIR" -maxdepth 1 -name 'libnvonnxparser.so.10*' -print -quit 2>/dev/null || true)" ]; then
  check_fail "no libnvonnxparser.so.10 in $TRT_HOME_DIR: install TensorRT's ONNX parser (libnvonnxparsers-dev)."
fi
TRT_HEADER=""
for dir in /usr/include/aarch64-linux-gnu /usr/include "$TRT_HOME_DIR/include" "$TRT_HOME_DIR/../include"; do
  if [ -f "$dir/NvInfer.h" ]; then TRT_HEADER="$dir/NvInfer.h"; break; fi
done
[ -n "$TRT_HEADER" ] || check_fail "NvInfer.h is missing: install the TensorRT development package (libnvinfer-dev)."

check_build_tools "$ORT_SRC"
for tool in gcc g++; do
  command -v "$tool" >/dev/null 2>&1 || check_fail "$tool is missing (sudo apt-get install -y build-essential)."
done

if [ "$MEM_GIB" -lt 16 ] && [ "$SWAP_GIB" -lt 8 ]; then
  warn "${MEM_GIB} GiB RAM and ${SWAP_GIB} GiB swap: nvcc and the linker need more. Add swap (8 GiB or more) first:
    sudo fallocate -l 8G /swapfile && sudo chmod 600 /swapfile && sudo mkswap /swapfile && sudo swapon /swapfile"
fi
if [ "$MEM_GIB" -lt 16 ] && [ "$JOBS" -gt 2 ]; then
  warn "--parallel $JOBS with ${MEM_GIB} GiB RAM: expect the out-of-memory killer; 2 is the safe value on an 8 GB Orin Nano."
fi

# --- Build -----------------------------------------------------------------------------------------------------------
step "Building ONNX Runtime (several hours on an Orin Nano)"
export_var CUDA_HOME "$CUDA_HOME_DIR"
export_var CUDACXX "$NVCC"
# shellcheck disable=SC2016  # prints $PATH literally
printf '+ export PATH=%q:"$PATH"\n' "$CUDA_HOME_DIR/bin"
export PATH="$CUDA_HOME_DIR/bin:$PATH"

build=(python3 "$ORT_SRC/tools/ci_build/build.py"
  --build_dir "$BUILD_DIR"
  --config Release
  --update --build
  --build_shared_lib
  --parallel "$JOBS"
  --skip_tests
  --compile_no_warning_as_error
  --use_cuda --cuda_home "$CUDA_HOME_DIR" --cudnn_home "$CUDNN_HOME_DIR"
  --use_tensorrt --tensorrt_home "$TRT_HOME_DIR"
  --nvcc_threads "$NVCC_THREADS")
if [ "$(id -u)" -eq 0 ]; then
  build+=(--allow_running_as_root)
fi
defines=("CMAKE_CUDA_ARCHITECTURES=$CUDA_ARCH" "onnxruntime_BUILD_UNIT_TESTS=OFF" "${EXTRA_DEFINES[@]}")
build+=(--cmake_extra_defines "${defines[@]}")
run "${build[@]}"

# --- Collect ---------------------------------------------------------------------------------------------------------
step "Collecting the libraries into $OUT"
clean_out_dir "$OUT"
copy_ort_libs "$BUILD_DIR/Release" "$OUT" "${ORT_LIBS[@]}"

if [ "$DRY_RUN" -eq 1 ]; then
  say "+ write $OUT/BUILDINFO"
else
  {
    printf 'onnxruntime %s (tag %s, commit %s)\n' "$ORT_VERSION" "$ORT_TAG" \
      "$(git -C "$ORT_SRC" rev-parse HEAD 2>/dev/null || printf 'not a git checkout')"
    printf 'execution providers: TensorRT, CUDA, CPU\n'
    printf 'cuda: %s (%s), CMAKE_CUDA_ARCHITECTURES=%s\n' "$CUDA_VERSION" "$CUDA_HOME_DIR" "$CUDA_ARCH"
    printf 'cudnn: %s\n' "${CUDNN_LIB:-unknown}"
    printf 'tensorrt: %s\n' "${TRT_LIB:-unknown}"
    printf 'jetson: %s\n' "$L4T_RELEASE"
    printf 'built: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  } > "$OUT/BUILDINFO"
fi
write_sha256sums "$OUT"

finish "$OUT"
