#!/usr/bin/env bash
# Runs the self-contained speed benchmark against the libtorch of a PyTorch install on this machine
# (the GPU box brings CUDA libtorch in its venv; the package has none of its own).
#   ./run-speed-bench.sh --check                      only the symbol check
#   ./run-speed-bench.sh --device cuda --preset videocrafter2 --dtype bfloat16 --partitions 4
# TORCH_LIB overrides the folder; PYTHON picks the interpreter whose torch to use (default python3).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
torch_lib=${TORCH_LIB:-$("${PYTHON:-python3}" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')}
export LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
echo "libtorch from $torch_lib"
if [ "${1:-}" = "--check" ]; then exec "$here/tools/check-libtorch-symbols.sh" "$torch_lib" "$here/libLibTorchSharp.so"; fi
# SYMBOLS_CHECKED=1: a caller (gpu-session.sh) already ran the check against this torch/lib.
if [ "${SYMBOLS_CHECKED:-}" != 1 ] && ! "$here/tools/check-libtorch-symbols.sh" "$torch_lib" "$here/libLibTorchSharp.so"; then
  echo "libLibTorchSharp.so needs libtorch symbols this torch/lib lacks (listed above); report them before trusting any run." >&2
  exit 3
fi
exec "$here/FifoPipes.Benchmarks.Speed" --torch-lib "$torch_lib" "$@"
