#!/usr/bin/env bash
# Publishes the speed benchmark for a GPU box that has a CUDA libtorch (e.g. a PyTorch venv) but no .NET and no NuGet:
# linux-x64, self-contained, WITHOUT any libtorch package (two different libtorch_cpu.so in one process is trouble),
# plus the launcher and the symbol check, packed as artifacts/gpu-bench/fifopipes-speed-bench.tar.xz (ignored folder;
# carry artifacts/gpu-bench/fifopipes-speed-bench.tar.xz and artifacts/gpu-bench/smoke with the device tool). There:
#   tar xf fifopipes-speed-bench.tar.xz && cd fifopipes-speed-bench && ./run-speed-bench.sh --check
#   ./run-speed-bench.sh --device cuda --preset videocrafter2 --dtype bfloat16 --partitions 4
#   ./gpu-session.sh OUT [SMOKE_DIR]      (every measurement of a device session in one call)
# or, from a checkout on the GPU machine that has artifacts/gpu-bench: scripts/run-gpu-session.sh OUT
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/artifacts/gpu-bench"
name=fifopipes-speed-bench
rm -rf "$out/$name" "$out/$name.tar.xz"
mkdir -p "$out"
# TorchBackend=external: neither libtorch-cpu nor TorchSharp-cuda is referenced (build/TorchNatives.targets),
# only the managed TorchSharp package with its libLibTorchSharp.so. Release: the per-layer profile and the one-row
# reference calls time managed code too.
dotnet publish "$root/tests/FifoPipes.Benchmarks.Speed" -c Release -r linux-x64 --self-contained \
  -p:InvariantGlobalization=true -p:TorchBackend=external -o "$out/$name"
if ls "$out/$name" | grep -q '^libtorch'; then echo "libtorch natives ended up in the publish output" >&2; exit 1; fi
cp "$root/tests/FifoPipes.Benchmarks.Speed/tools/run-speed-bench.sh" "$root/tests/FifoPipes.Benchmarks.Speed/tools/gpu-session.sh" "$out/$name/"
mkdir -p "$out/$name/tools"
cp "$root/tests/FifoPipes.Benchmarks.Speed/tools/check-libtorch-symbols.sh" "$out/$name/tools/"
# Which code the figures come from: the session prints this first.
{ echo "build: $(git -C "$root" rev-parse HEAD)$(git -C "$root" diff --quiet HEAD -- . 2>/dev/null || echo ' (with uncommitted changes)')"; echo "built: $(date -u)"; } > "$out/$name/BUILD"
tar -C "$out" -cJf "$out/$name.tar.xz" "$name"
# Only the tarball travels; the unpacked folder would push a carried artifacts/gpu-bench past the tool's size limit.
du -sh "$out/$name" "$out/$name.tar.xz"
rm -rf "$out/$name"
# The smoke's parity cases (golden outputs of the reference UNets), where the shared folder is here to copy them from.
rm -rf "$out/smoke"
if compgen -G "$root/../shared/parity/videocrafter/vc*_unet_tiny" > /dev/null; then
  mkdir -p "$out/smoke"
  cp -r "$root"/../shared/parity/videocrafter/vc*_unet_tiny "$out/smoke/"
fi
