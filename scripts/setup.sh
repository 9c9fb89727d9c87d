#!/usr/bin/env bash
# Prepares a fresh machine: ffmpeg (Debian package), pwsh (local dotnet tool), Pester (NuGet), and builds the module.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v ffmpeg >/dev/null 2>&1 || ! command -v ffprobe >/dev/null 2>&1; then
  echo "setup: installing ffmpeg" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq ffmpeg >/dev/null
fi

dotnet tool restore >/dev/null
dotnet restore build/tools/Tools.csproj -v q >/dev/null
dotnet build FifoPipes.sln -v q -nologo -clp:ErrorsOnly
dotnet build examples/plugins/ContactSheetSink -v q -nologo -clp:ErrorsOnly
dotnet build examples/plugins/GaussianModel -v q -nologo -clp:ErrorsOnly
