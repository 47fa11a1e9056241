#!/usr/bin/env bash
# Installs what the Makefile needs, each only if missing (idempotent, quiet when present).
# Usage: scripts/ensure-tools.sh rust|wasm|browser|node ...
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned versions (wasm-bindgen-cli must equal the wasm-bindgen crate in Cargo.lock).
WASM_PACK_VERSION=0.13.1
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock 2>/dev/null || true)

say() { echo "ensure-tools: $*" >&2; }
apt_install() {
  if [ "$(id -u)" != 0 ]; then say "need root to apt-get install $*"; exit 1; fi
  if [ ! -f /var/lib/apt/lists/.lrp-updated ]; then
    apt-get update -qq >/dev/null && touch /var/lib/apt/lists/.lrp-updated
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_rust() {
  command -v cargo >/dev/null || { say "cargo not found: install Rust with rustup first"; exit 1; }
  # rust-toolchain.toml pins the toolchain; rustup installs it on first use.
  cargo --version >/dev/null
}

ensure_wasm() {
  ensure_rust
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    say "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown >/dev/null
  fi
  # the threaded photo engine rebuilds std with atomics (-Z build-std): the standard library's source
  if ! rustup component list --installed 2>/dev/null | grep -q '^rust-src'; then
    say "adding the rust-src component"
    rustup component add rust-src >/dev/null
  fi
  if ! command -v wasm-pack >/dev/null || [ "$(wasm-pack --version | awk '{print $2}')" != "$WASM_PACK_VERSION" ]; then
    say "installing wasm-pack $WASM_PACK_VERSION (cargo install, about 3 minutes)"
    cargo install --quiet --locked wasm-pack --version "$WASM_PACK_VERSION" 2>/dev/null || cargo install --quiet wasm-pack --version "$WASM_PACK_VERSION"
  fi
  if [ -n "$WASM_BINDGEN_VERSION" ] && { ! command -v wasm-bindgen >/dev/null || [ "$(wasm-bindgen --version | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; }; then
    say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (cargo install, about 3 minutes)"
    cargo install --quiet --locked wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" 2>/dev/null || cargo install --quiet wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
  fi
}

ensure_browser() {
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    say "installing chromium and chromium-driver"
    apt_install chromium chromium-driver
  fi
}

ensure_node() {
  command -v npm >/dev/null || apt_install nodejs npm
  # scripts/: wasm-opt (npm binaryen); tests/e2e/: playwright-core, axe-core. Pinned by package-lock.json.
  for dir in scripts tests/e2e; do
    if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
      say "installing the npm packages of $dir"
      (cd "$dir" && npm ci --silent --no-audit --no-fund >/dev/null)
    fi
  done
}

for what in "$@"; do
  case "$what" in
    rust) ensure_rust ;;
    wasm) ensure_wasm ;;
    browser) ensure_browser ;;
    node) ensure_node ;;
    *) say "unknown: $what"; exit 2 ;;
  esac
done
