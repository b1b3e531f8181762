#!/usr/bin/env bash
# Make sure netlab finds the full Fashion-MNIST: already there -> nothing to do; else, as root on
# Debian/Ubuntu, install the package dataset-fashion-mnist; else download the official files.
set -euo pipefail
netlab=${1:-netlab}
if "$netlab" data info >/dev/null 2>&1; then
  "$netlab" data info | sed -n 1p
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian package dataset-fashion-mnist"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null
fi
if ! "$netlab" data info >/dev/null 2>&1; then
  echo "downloading Fashion-MNIST into ${NETLAB_DATA:-~/.cache/netlab/fashion-mnist}"
  "$netlab" data download
fi
"$netlab" data info | sed -n 1p
