#!/usr/bin/env bash
# Installs the named Debian packages if they are missing, without letting
# their maintainer scripts start system-wide services (a system Prosody or
# ejabberd would listen on public ports). otrchat's tests and demo run their
# own private servers on 127.0.0.1 and never use the system services.
#
# usage: scripts/install-deps.sh PACKAGE...
set -euo pipefail

missing=()
for pkg in "$@"; do
	if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$pkg")
	fi
done
if [ "${#missing[@]}" -eq 0 ]; then
	exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
	SUDO=(sudo)
fi

# Debian's invoke-rc.d and deb-systemd-invoke obey /usr/sbin/policy-rc.d:
# exit status 101 forbids starting services. Put one in place for the
# install unless the machine already has its own.
policy=/usr/sbin/policy-rc.d
ours=""
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\n# temporary, from otrchat scripts/install-deps.sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
	"${SUDO[@]}" chmod 755 "$policy"
	ours=1
fi
cleanup() { if [ -n "$ours" ]; then "${SUDO[@]}" rm -f "$policy"; fi; }
trap cleanup EXIT

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"

# Belt and braces: if a package started its system service anyway, stop it
# and keep it from starting at boot. Only the services of packages
# installed just now are touched.
for pkg in "${missing[@]}"; do
	case "$pkg" in
	prosody | ejabberd) ;;
	*) continue ;;
	esac
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
		if systemctl is-active --quiet "$pkg" || systemctl is-enabled --quiet "$pkg" 2>/dev/null; then
			echo "install-deps: stopping and disabling the system $pkg service" >&2
			"${SUDO[@]}" systemctl disable --now "$pkg" || true
		fi
	elif [ -x "/etc/init.d/$pkg" ] && "${SUDO[@]}" "/etc/init.d/$pkg" status >/dev/null 2>&1; then
		echo "install-deps: stopping the system $pkg service" >&2
		"${SUDO[@]}" "/etc/init.d/$pkg" stop || true
	fi
done
