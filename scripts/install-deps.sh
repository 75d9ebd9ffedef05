#!/usr/bin/env bash
# Installs the Debian 12 packages QuantLens needs to build, test and run.
# Idempotent: installs only what is missing; does nothing when all is present.
# --fuzz also installs clang and its runtime libraries (libFuzzer, ASan, UBSan) for
# scripts/fuzz.sh.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config ccache
  qt6-base-dev qt6-base-dev-tools qt6-svg-dev libgl-dev
  libqcustomplot-dev
  libtorch-dev libopenblas0-pthread liblapack-dev
  nlohmann-json3-dev libpcre2-dev libicu-dev
  xvfb xauth fonts-dejavu-core
)

if [ "${1:-}" = "--fuzz" ]; then
  PACKAGES+=(clang libclang-rt-dev)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "Installing: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
