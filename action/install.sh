#!/usr/bin/env bash
# Installs a released xks-lint binary for the runner's platform (used by action.yml).
# Downloads `xks-lint-<version>-<target>.<tar.gz|zip>` and `SHA256SUMS` of the release,
# checks the archive's checksum, unpacks the binary into $XKS_LINT_INSTALL_DIR and puts that
# directory on the PATH of later steps ($GITHUB_PATH). Nothing is run from the archive before
# its checksum matched.
#
# Inputs (environment): XKS_LINT_VERSION (a tag such as v0.1.0, or `latest`), RUNNER_OS and
# RUNNER_ARCH (set by the runner), XKS_LINT_DOWNLOAD_BASE (default: the GitHub releases of the
# repository), XKS_LINT_INSTALL_DIR (default: $RUNNER_TEMP/xks-lint).
set -euo pipefail

# The Rust target triple of a runner: Linux gets the static musl builds.
xks_lint_target() {
  local os="$1" arch="$2"
  case "$os/$arch" in
    Linux/X64) echo x86_64-unknown-linux-musl ;;
    Linux/ARM64) echo aarch64-unknown-linux-musl ;;
    macOS/X64) echo x86_64-apple-darwin ;;
    macOS/ARM64) echo aarch64-apple-darwin ;;
    Windows/X64) echo x86_64-pc-windows-msvc ;;
    *) echo "xks-lint: no release binary for $os/$arch; build it with cargo install" >&2; return 1 ;;
  esac
}

# The base URL of a release's assets.
xks_lint_base() {
  local repository="$1" version="$2"
  if [ "$version" = latest ]; then
    echo "https://github.com/$repository/releases/latest/download"
  else
    echo "https://github.com/$repository/releases/download/$version"
  fi
}

xks_lint_install() {
  local version="${XKS_LINT_VERSION:-latest}"
  local target
  target="$(xks_lint_target "${RUNNER_OS:?}" "${RUNNER_ARCH:?}")"
  local base="${XKS_LINT_DOWNLOAD_BASE:-$(xks_lint_base "${XKS_LINT_REPOSITORY:-XenitAB/xks-lint}" "$version")}"
  local dir="${XKS_LINT_INSTALL_DIR:-${RUNNER_TEMP:?}/xks-lint}"
  local extension=tar.gz binary=xks-lint
  if [ "$RUNNER_OS" = Windows ]; then extension=zip binary=xks-lint.exe; fi
  local archive="xks-lint-$target.$extension"
  local work
  work="$(mktemp -d)"
  curl --fail --silent --show-error --location --proto '=https,file' --retry 3 \
    --output "$work/$archive" "$base/$archive"
  curl --fail --silent --show-error --location --proto '=https,file' --retry 3 \
    --output "$work/SHA256SUMS" "$base/SHA256SUMS"
  local expected actual
  expected="$(awk -v name="$archive" '$2 == name || $2 == "*" name { print $1 }' "$work/SHA256SUMS")"
  if [ -z "$expected" ]; then
    echo "xks-lint: $archive is not listed in SHA256SUMS" >&2
    return 1
  fi
  if command -v sha256sum >/dev/null 2>&1; then
    actual="$(sha256sum "$work/$archive" | awk '{print $1}')"
  else
    actual="$(shasum -a 256 "$work/$archive" | awk '{print $1}')"
  fi
  if [ "$expected" != "$actual" ]; then
    echo "xks-lint: checksum mismatch for $archive (expected $expected, got $actual)" >&2
    return 1
  fi
  mkdir -p "$dir"
  if [ "$extension" = zip ]; then
    unzip -o -q -j "$work/$archive" "$binary" -d "$dir"
  else
    tar -xzf "$work/$archive" -C "$dir" "$binary"
  fi
  chmod +x "$dir/$binary"
  rm -rf "$work"
  if [ -n "${GITHUB_PATH:-}" ]; then echo "$dir" >> "$GITHUB_PATH"; fi
  echo "xks-lint: installed $("$dir/$binary" --version) ($target) in $dir"
}

# Sourced by the tests for the functions; run by the action.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  xks_lint_install
fi
