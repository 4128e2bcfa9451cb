#!/usr/bin/env bash
# `make demo`: a working local chat on this machine, loopback only.
#
# Installs Prosody from Debian if it is missing, then runs a private Prosody
# on 127.0.0.1 with the demo accounts alice and bob and prints how to
# connect. It stays in the foreground until Ctrl-C, which stops everything.
# (The prekey server and the terminal UI will join here as they are built.)
#
# Environment: OTRCHAT_TEST_SERVER=ejabberd uses ejabberd instead;
# DEMO_PORT pins the client port (default: a free one).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

kind="${OTRCHAT_TEST_SERVER:-prosody}"
bash scripts/install-deps.sh "$kind"

if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null || { echo "demo: Go 1.26 or later is needed (https://go.dev/dl/)" >&2; exit 1; }

mkdir -p .demo
go build -o .demo/otrtestbed ./cmd/otrtestbed
exec .demo/otrtestbed -kind "$kind" -accounts alice,bob -port "${DEMO_PORT:-0}" -dir .demo/server
