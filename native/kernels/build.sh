#!/usr/bin/env bash
# Builds EdgeRuntime's per-ISA kernels for one RID into OUT_DIR:
#   libedgekernels.a   linked into the Native AOT binaries (DirectPInvoke, see build/EdgeKernels.targets)
#   libedgekernels.so  loaded by the JIT (tests, dotnet run), copied beside the managed assemblies
# Usage: native/kernels/build.sh linux-x64|linux-arm64 OUT_DIR
# Each instruction set's file is compiled with that set's flags only; features.c, compiled for the baseline, decides
# at run time whether those functions may be called. The outputs are renamed into place, so several MSBuild nodes
# building the same RID at once never see half a file.
set -euo pipefail

rid="${1:?usage: build.sh RID OUT_DIR}"
out="${2:?usage: build.sh RID OUT_DIR}"
here="$(cd "$(dirname "$0")" && pwd)"
# -ffp-contract=off: no multiply-add is fused, so the float steps round as the C# ones do (bit-identical results).
flags=(-O2 -std=c11 -ffp-contract=off -fPIC -Wall -Wextra -Werror -fvisibility=default)

case "$rid" in
  linux-x64)
    cc="${CC:-gcc}"
    ar_tool=ar
    # file, then its instruction-set flags.
    avx512vnni="-mavx512f -mavx512bw -mavx512vl -mavx512vnni"
    units=("features.c|" "x64_avx512vnni.c|$avx512vnni" "x64_avx512vnni_nbits.c|$avx512vnni"
           "x64_avx512vnni_trit.c|$avx512vnni" "unavailable_arm64.c|")
    ;;
  linux-arm64)
    if command -v aarch64-linux-gnu-gcc > /dev/null; then
      cc=aarch64-linux-gnu-gcc
      ar_tool=aarch64-linux-gnu-ar
    else
      cc="clang --target=aarch64-linux-gnu"
      ar_tool=llvm-ar
    fi
    [ "$(uname -m)" = aarch64 ] && { cc="${CC:-gcc}"; ar_tool=ar; }
    units=("features.c|" "arm64_i8mm.c|-march=armv8.2-a+dotprod+i8mm" "unavailable_x64.c|")
    ;;
  *)
    echo "native/kernels/build.sh: no kernels for RID '$rid' (linux-x64 and linux-arm64 are built)" >&2
    exit 2
    ;;
esac

mkdir -p "$out"
work="$(mktemp -d "${out%/}/.build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
objects=()
for unit in "${units[@]}"; do
  file="${unit%%|*}"
  read -r -a isa <<< "${unit#*|}"
  object="$work/${file%.c}.o"
  $cc "${flags[@]}" ${isa[@]+"${isa[@]}"} -c "$here/$file" -o "$object"
  objects+=("$object")
done

$ar_tool rcs "$work/libedgekernels.a" "${objects[@]}"
$cc -shared -o "$work/libedgekernels.so" "${objects[@]}"
mv -f "$work/libedgekernels.a" "$out/libedgekernels.a"
mv -f "$work/libedgekernels.so" "$out/libedgekernels.so"
