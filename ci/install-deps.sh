#!/usr/bin/env bash
# Installs what building and testing meshc needs, when it is missing.
# As root it uses apt-get (Debian/Ubuntu); otherwise it says what to install.
set -euo pipefail

missing=()
pkg-config --exists yaml-0.1 2>/dev/null || missing+=(libyaml-dev)
pkg-config --exists libgit2 2>/dev/null || missing+=(libgit2-dev)
command -v git >/dev/null || missing+=(git)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v python3 >/dev/null || missing+=(python3)

if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "meshc: installing ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "meshc: missing system packages: ${missing[*]}" >&2
    echo "       install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

# The schema agreement test validates with a real JSON Schema validator.
if ! python3 -c 'import jsonschema, yaml' 2>/dev/null; then
  echo "meshc: installing Python packages jsonschema, PyYAML" >&2
  python3 -m pip install -q jsonschema PyYAML || {
    echo "meshc: could not install jsonschema/PyYAML; run: python3 -m pip install jsonschema PyYAML" >&2
    exit 1
  }
fi
command -v swift >/dev/null || { echo "meshc: Swift 6 is required (https://swift.org/install)" >&2; exit 1; }
