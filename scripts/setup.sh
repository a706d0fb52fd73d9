#!/usr/bin/env bash
# Installs everything tarn needs on a bare Debian 12 machine (run as root):
# Debian packages through apt, the pinned DuckDB C library from the npm
# registry into .deps/duckdb (lib/libduckdb.so, include/duckdb.h), the
# pinned S3-compatible test server s3rver into .deps/node, and the pinned
# Iceberg readers the tests use into .deps/iceberg-node.
# Every step is skipped when already done, so a second run takes a second.
set -euo pipefail
cd "$(dirname "$0")/.."

DUCKDB_VERSION=1.4.4
DUCKDB_BINDINGS="@duckdb/node-bindings-linux-x64@1.4.4-r.1"
DUCKDB_SOURCE="duckdb@${DUCKDB_VERSION}"
DEPS="$PWD/.deps"
S3RVER_VERSION=3.7.1
# Iceberg readers for the interop tests, pinned: iceberg-js (a REST catalog
# client) and icebird (metadata, Avro manifests, Parquet; it pins its own
# Parquet decoder, hyparquet, exactly).
ICEBERG_NODE_PACKAGES="iceberg-js@1.0.0 icebird@0.3.1"

APT_PACKAGES=(
  build-essential cmake pkg-config ca-certificates
  libsqlite3-dev libcurl4-openssl-dev libmicrohttpd-dev libjansson-dev libssl-dev libpq-dev zlib1g-dev libyaml-dev
  libavro-dev avro-bin python3-avro
  python3 python3-dev python3-numpy python3-pandas python3-pytest python3-pip python3-venv python3-yaml
  clang libclang-rt-14-dev
  faketime
  postgresql pgbouncer
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# DuckDB: DUCKDB_HOME may name an official libduckdb release instead.
if [ -n "${DUCKDB_HOME:-}" ]; then
  echo "setup: using DuckDB from DUCKDB_HOME=$DUCKDB_HOME"
elif [ ! -f "$DEPS/duckdb/lib/libduckdb.so" ] || [ ! -f "$DEPS/duckdb/include/duckdb.h" ] \
     || [ "$(cat "$DEPS/duckdb/VERSION" 2>/dev/null)" != "$DUCKDB_VERSION" ]; then
  echo "setup: fetching DuckDB $DUCKDB_VERSION C library from the npm registry"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$DUCKDB_BINDINGS" "$DUCKDB_SOURCE" >/dev/null)
  mkdir -p "$tmp/bin" "$tmp/src"
  tar -xzf "$tmp"/duckdb-node-bindings-linux-x64-*.tgz -C "$tmp/bin"
  tar -xzf "$tmp"/duckdb-${DUCKDB_VERSION}.tgz -C "$tmp/src" package/src/duckdb/src/include/duckdb.h
  rm -rf "$DEPS/duckdb.new"
  mkdir -p "$DEPS/duckdb.new/lib" "$DEPS/duckdb.new/include"
  cp "$tmp/bin/package/libduckdb.so" "$DEPS/duckdb.new/lib/"
  cp "$tmp/src/package/src/duckdb/src/include/duckdb.h" "$DEPS/duckdb.new/include/"
  echo "$DUCKDB_VERSION" > "$DEPS/duckdb.new/VERSION"
  rm -rf "$DEPS/duckdb"
  mv "$DEPS/duckdb.new" "$DEPS/duckdb"
fi
# s3rver: the S3 endpoint the tests start on a loopback port (Node from Debian).
if [ "$(cat "$DEPS/node/S3RVER_VERSION" 2>/dev/null)" != "$S3RVER_VERSION" ] \
   || [ ! -f "$DEPS/node/node_modules/s3rver/bin/s3rver.js" ]; then
  echo "setup: installing s3rver $S3RVER_VERSION from the npm registry"
  rm -rf "$DEPS/node"
  mkdir -p "$DEPS/node"
  npm install --silent --no-audit --no-fund --prefix "$DEPS/node" "s3rver@$S3RVER_VERSION" >/dev/null
  echo "$S3RVER_VERSION" > "$DEPS/node/S3RVER_VERSION"
fi
# iceberg-js and icebird: read tarn's tables as Iceberg in the tests.
if [ "$(cat "$DEPS/iceberg-node/PACKAGES" 2>/dev/null)" != "$ICEBERG_NODE_PACKAGES" ] \
   || [ ! -f "$DEPS/iceberg-node/node_modules/icebird/package.json" ] \
   || [ ! -f "$DEPS/iceberg-node/node_modules/iceberg-js/package.json" ]; then
  echo "setup: installing $ICEBERG_NODE_PACKAGES from the npm registry"
  rm -rf "$DEPS/iceberg-node"
  mkdir -p "$DEPS/iceberg-node"
  # shellcheck disable=SC2086
  npm install --silent --no-audit --no-fund --prefix "$DEPS/iceberg-node" $ICEBERG_NODE_PACKAGES >/dev/null
  echo "$ICEBERG_NODE_PACKAGES" > "$DEPS/iceberg-node/PACKAGES"
fi
echo "setup: dependencies ready"
