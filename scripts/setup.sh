#!/usr/bin/env bash
# Installs every Debian package idv needs to build, test and run, idempotently:
# only what is missing is installed, and the package lists are refreshed only then.
set -euo pipefail

packages=(
  build-essential cmake pkg-config ccache git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libsodium-dev libleveldb-dev libsnappy-dev libabsl-dev libpq-dev postgresql
  libgtest-dev libgmock-dev libbenchmark-dev
  libicu-dev libphonenumber-dev libspdlog-dev prometheus-cpp-dev prometheus nlohmann-json3-dev
  libcli11-dev libyaml-cpp-dev help2man systemd chromium fonts-wqy-microhei
  python3 python3-grpcio python3-jsonschema python3-protobuf python3-stdnum
  clang libclang-rt-14-dev libcuckoo-dev
  openssl libssl-dev libcurl4-openssl-dev nghttp2-client bc curl
  golang-go golang-golang-x-mod-dev
  nodejs
)
# npm for the Node example's packages (examples/node); a Node.js from elsewhere may bring its own.
command -v npm > /dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
