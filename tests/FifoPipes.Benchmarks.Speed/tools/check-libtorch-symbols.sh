#!/usr/bin/env bash
# Which libtorch symbols does libLibTorchSharp.so need that the libtorch in a folder does not export?
# LibTorchSharp 0.107 was linked against libtorch 2.10; a box with another libtorch (e.g. PyTorch 2.11's torch/lib)
# may lack some of them, and TorchSharp then fails at the first call that needs one.
#   usage: check-libtorch-symbols.sh <torch/lib folder> [libLibTorchSharp.so]
# Exit code: 0 all resolved, 1 some missing, 2 usage or tool problem.
set -euo pipefail
torch_lib=${1:?usage: $0 <torch/lib folder> [libLibTorchSharp.so]}
bridge=${2:-libLibTorchSharp.so}
[ -d "$torch_lib" ] || { echo "no folder '$torch_lib'" >&2; exit 2; }
[ -f "$bridge" ] || { echo "no file '$bridge'" >&2; exit 2; }

if command -v nm >/dev/null; then
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
  nm -D --undefined-only "$bridge" | awk '$1 == "U" { sub(/@.*/, "", $2); print $2 }' | sort -u > "$work/needed"
  for lib in libc10.so libc10_cuda.so libtorch_cpu.so libtorch_cuda.so libtorch.so; do
    [ -f "$torch_lib/$lib" ] && nm -D --defined-only "$torch_lib/$lib" | awk '{ sub(/@.*/, "", $NF); print $NF }'
  done | sort -u > "$work/exported"
  # Only torch's own namespaces count; libstdc++ and glibc symbols come from the system.
  comm -23 "$work/needed" "$work/exported" | c++filt | grep -E '(^|[ (<,*&])(c10|at|torch|caffe2)::' > "$work/missing" || true
  echo "libtorch symbols needed by $(basename "$bridge") and found in $torch_lib: $(comm -12 "$work/needed" "$work/exported" | wc -l); missing: $(wc -l < "$work/missing")"
  head -50 "$work/missing"
  [ ! -s "$work/missing" ]
else
  # No binutils: let the dynamic loader resolve every symbol against that folder instead.
  echo "nm not found; resolving with ldd -r against $torch_lib"
  missing=$(LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ldd -r "$bridge" 2>&1 | grep -E 'undefined symbol|not found' || true)
  echo "unresolved: $(printf '%s' "$missing" | grep -c . || true)"
  printf '%s\n' "$missing" | head -50
  [ -z "$missing" ]
fi
