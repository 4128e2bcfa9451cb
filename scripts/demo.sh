#!/usr/bin/env bash
# `make demo`: a working local chat on this machine, loopback only.
#
# Installs Prosody from Debian if it is missing, then runs a private Prosody
# on 127.0.0.1 with the demo accounts alice and bob, our OTRv4 prekey server
# (cmd/otrprekeyd) as an XEP-0114 component of it, and key stores holding
# each account's OTRv4 device keys. It stays in the foreground until Ctrl-C,
# which stops everything. (The terminal UI will join here when it is built.)
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
go build -o .demo/otrprekeyd ./cmd/otrprekeyd
go build -o .demo/otrchat ./cmd/otrchat

secret="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
printf '%s\n' "$secret" > .demo/prekeyd.secret
chmod 600 .demo/prekeyd.secret

pids=()
cleanup() {
	trap - INT TERM EXIT
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

rm -f .demo/server/testbed.env
.demo/otrtestbed -kind "$kind" -accounts alice,bob -components "prekeys.localhost:$secret" \
	-port "${DEMO_PORT:-0}" -dir .demo/server &
pids+=($!)

# Wait (bounded) for the server to be ready.
for _ in $(seq 1 120); do
	[ -f .demo/server/testbed.env ] && break
	kill -0 "${pids[0]}" 2>/dev/null || { echo "demo: the XMPP server did not start" >&2; exit 1; }
	sleep 0.5
done
[ -f .demo/server/testbed.env ] || { echo "demo: the XMPP server was not ready within 60 s" >&2; exit 1; }
# shellcheck disable=SC1091
. .demo/server/testbed.env

# The prekey server, as a component of the demo server.
.demo/otrprekeyd -name prekeys.localhost -secret-file .demo/prekeyd.secret \
	-server "$OTRCHAT_COMPONENT_ADDR" -data .demo/prekeyd -log-level info \
	> .demo/prekeyd.log 2>&1 &
pids+=($!)

# OTRv4 keys for each demo account, in its own key store.
for who in alice bob; do
	store="$PWD/.demo/$who/keys.db"
	mkdir -p ".demo/$who"
	rm -f "$store"
	OTRCHAT_PASSPHRASE="demo-$who" .demo/otrchat keys create -account "$who@localhost" \
		-keystore "$store" -passphrase env > ".demo/$who/keys.txt"
done

sleep 1
if ! kill -0 "${pids[1]}" 2>/dev/null; then
	echo "demo: the prekey server stopped; see .demo/prekeyd.log" >&2
	exit 1
fi
cat <<INFO

The prekey server runs as prekeys.localhost, fingerprint
  $(sed -n 's/.*prekey server ready.* fingerprint=\([0-9A-Fa-f]*\).*/\1/p' .demo/prekeyd.log | head -n 1)
(its log is .demo/prekeyd.log).
OTRv4 device keys: .demo/alice/keys.db (passphrase demo-alice) and .demo/bob/keys.db (demo-bob);
their fingerprints are in .demo/alice/keys.txt and .demo/bob/keys.txt.
Press Ctrl-C to stop everything.
INFO
wait "${pids[0]}"
