#!/usr/bin/env bash
# Installs what building and testing meshc needs, when it is missing. Works on stock Debian 12
# and Ubuntu (where pip may be absent and the system Python is externally managed): system
# packages come from apt, Python modules from Debian's packages first.
#
#   ci/install-deps.sh          build dependencies (make build, make demo)
#   ci/install-deps.sh --test   also the Python modules the test suite uses (make test):
#                               PyYAML and jsonschema (schema agreement, generated-file check)
#
# As root it uses apt-get; otherwise it says what to install.
set -euo pipefail

want_test=false
[[ ${1:-} == --test ]] && want_test=true

missing=()
pkg-config --exists yaml-0.1 2>/dev/null || missing+=(libyaml-dev)
pkg-config --exists libgit2 2>/dev/null || missing+=(libgit2-dev)
command -v git >/dev/null || missing+=(git)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v python3 >/dev/null || missing+=(python3)
# The CA's tests check every certificate with openssl itself.
$want_test && ! command -v openssl >/dev/null && missing+=(openssl)
# The reliability suite puts nginx in front of two meshc serve replicas.
$want_test && ! command -v nginx >/dev/null && [[ ! -x /usr/sbin/nginx ]] && missing+=(nginx-light)
# ... as a TCP balancer (stream module): the replicas speak HTTPS and take mTLS reports.
$want_test && [[ ! -e /usr/lib/nginx/modules/ngx_stream_module.so ]] && missing+=(libnginx-mod-stream)
# The sidecar smoke test drives the shipped proxy with curl (HTTP/1 and h2c) and reads its ELF.
$want_test && ! command -v curl >/dev/null && missing+=(curl)
$want_test && ! command -v readelf >/dev/null && missing+=(binutils)
# The capture tests write mesh-proxy's iptables rules in network namespaces (ip netns).
$want_test && [[ ! -x /usr/sbin/iptables-restore ]] && missing+=(iptables)
$want_test && [[ ! -x /usr/sbin/ip && ! -x /sbin/ip ]] && missing+=(iproute2)
# The transparent-mesh test runs an application nobody here wrote: Redis, through two sidecars.
$want_test && ! command -v redis-server >/dev/null && missing+=(redis-server)
$want_test && ! command -v setpriv >/dev/null && missing+=(util-linux)
# Replicas share the registry through etcd (--store): the store's tests and the reliability
# suite start their own members (Debian's etcd-server; etcdctl for operators' checks).
$want_test && ! command -v etcd >/dev/null && [[ ! -x /usr/bin/etcd ]] && missing+=(etcd-server etcd-client)
# The console: a real Prometheus scrapes the proxies; headless Chromium checks the page.
$want_test && ! command -v prometheus >/dev/null && [[ ! -x /usr/bin/prometheus ]] && missing+=(prometheus)
$want_test && ! command -v chromium >/dev/null && [[ ! -x /usr/bin/chromium ]] && missing+=(chromium)
# ... and WebSocket and gRPC clients and servers (the websockets and grpcio projects'), for
# the system's python3, which the test's unprivileged "applications" run.
$want_test && ! /usr/bin/python3 -c 'import websockets' 2>/dev/null && missing+=(python3-websockets)
$want_test && ! /usr/bin/python3 -c 'import grpc' 2>/dev/null && missing+=(python3-grpcio)
if $want_test && ! python3 -c 'import yaml, jsonschema' 2>/dev/null; then
  missing+=(python3-yaml python3-jsonschema)
fi

apt_install() {
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "meshc: installing $*" >&2
    apt-get update -qq
    # Packages are installed for the tests, which start their own etcd and Prometheus on
    # loopback ports: no daemon of theirs is started here.
    local guard=false
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && guard=true
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
    if $guard; then rm -f /usr/sbin/policy-rc.d; fi
  else
    echo "meshc: missing system packages: $*" >&2
    echo "       install them with: sudo apt-get install $*" >&2
    return 1
  fi
}

if ((${#missing[@]})); then
  apt_install "${missing[@]}"
fi

# A python3 that is not the system's (pyenv, a venv) does not see Debian's modules: give it
# its own copies, from pip, into the user site (never into an externally managed Python).
# The sidecar smoke test drives the shipped proxy with curl (HTTP/1 and h2c) and reads its ELF.
$want_test && ! command -v curl >/dev/null && missing+=(curl)
$want_test && ! command -v readelf >/dev/null && missing+=(binutils)
# The capture tests write mesh-proxy's iptables rules in network namespaces (ip netns).
$want_test && [[ ! -x /usr/sbin/iptables-restore ]] && missing+=(iptables)
$want_test && [[ ! -x /usr/sbin/ip && ! -x /sbin/ip ]] && missing+=(iproute2)
if $want_test && ! python3 -c 'import yaml, jsonschema' 2>/dev/null; then
  if python3 -m pip --version >/dev/null 2>&1; then
    echo "meshc: installing Python packages PyYAML, jsonschema with pip" >&2
    python3 -m pip install -q --user PyYAML jsonschema 2>/dev/null || python3 -m pip install -q PyYAML jsonschema
  fi
  python3 -c 'import yaml, jsonschema' 2>/dev/null || {
    echo "meshc: python3 cannot import yaml and jsonschema; install python3-yaml and python3-jsonschema" >&2
    exit 1
  }
fi
command -v swift >/dev/null || { echo "meshc: Swift 6 is required (https://swift.org/install)" >&2; exit 1; }
