#!/usr/bin/env bash
# The main job: a 320x512, 240-frame video from the built-in analytic model with FIFO (f=16, n=4, lookahead),
# written as demo.mp4 and demo.gif. Usage: scripts/demo.sh ["prompt"] [frames]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
PROMPT="${1:-orange clouds drifting slowly to the left over a purple nebula}"
FRAMES="${2:-240}"
[[ "$FRAMES" =~ ^[0-9]+$ ]] || { echo "frames must be a whole number, got '$FRAMES'" >&2; exit 2; }
PROMPT="${PROMPT//\'/\'\'}"   # the prompt sits in a single-quoted PowerShell string
dotnet pwsh -NoProfile -Command "
  \$ErrorActionPreference = 'Stop'
  Import-Module ./FifoDiffusion.psd1
  \$sw = [Diagnostics.Stopwatch]::StartNew()
  New-FifoVideo '$PROMPT' -Frames $FRAMES -Seed 1 | Export-FifoFrames demo.mp4, demo.gif -Force
  'made {0} frames in {1:F1} s' -f $FRAMES, \$sw.Elapsed.TotalSeconds
"
