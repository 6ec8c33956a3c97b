#!/bin/sh
# Installs the Debian packages cinfer needs (check, libcpuinfo-dev, pkg-config) when run as root;
# otherwise prints the exact command.  Quiet when everything is present.
missing=""
command -v pkg-config >/dev/null 2>&1 || missing="pkg-config"
if command -v pkg-config >/dev/null 2>&1; then
  pkg-config --exists check || missing="$missing check"
  pkg-config --exists libcpuinfo || missing="$missing libcpuinfo-dev"
else
  missing="pkg-config check libcpuinfo-dev"
fi
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "deps: installing $missing" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing) >&2 || {
    echo "deps: apt-get install failed" >&2; exit 1; }
else
  echo "deps: missing packages: $missing" >&2
  echo "deps: run: sudo apt-get update && sudo apt-get install -y $missing" >&2
  exit 1
fi
