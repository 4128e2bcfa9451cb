#!/usr/bin/env bash
# `make demo`: a working local chat on this machine, loopback only.
#
# Installs Prosody from Debian if it is missing, then runs a private Prosody
# on 127.0.0.1 with the demo accounts alice and bob, our OTRv4 prekey server
# (cmd/otrprekeyd) as an XEP-0114 component of it, and key stores holding
# each account's OTRv4 device keys. Then bob signs in as the demo
# responder (scripts/demo-responder.sh: otrchat in line mode, answering
# every message and SMP question, clearly labelled as a script), and the
# terminal UI starts signed in as alice. Quitting it (/quit or Ctrl-C)
# stops everything.
#
# Environment: OTRCHAT_TEST_SERVER=ejabberd uses ejabberd instead;
# DEMO_PORT pins the client port (default: a free one); DEMO_DIR is where
# everything is written (default .demo); DEMO_RESPONDER=0 leaves bob
# offline, to be opened as a second TUI (the README says how).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
demo="${DEMO_DIR:-.demo}"
mkdir -p "$demo"
demo="$(cd "$demo" && pwd)"

kind="${OTRCHAT_TEST_SERVER:-prosody}"
bash scripts/install-deps.sh "$kind"

if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null || { echo "demo: Go 1.26 or later is needed (https://go.dev/dl/)" >&2; exit 1; }

go build -o "$demo/otrtestbed" ./cmd/otrtestbed
go build -o "$demo/otrprekeyd" ./cmd/otrprekeyd
go build -o "$demo/otrchat" ./cmd/otrchat

secret="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
printf '%s\n' "$secret" > "$demo/prekeyd.secret"
chmod 600 "$demo/prekeyd.secret"

pids=()
cleanup() {
	trap - INT TERM EXIT
	# The responder first (it ends its OTR conversations), the server last.
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill "${pids[i]}" 2>/dev/null || true
		[ "$i" -gt 1 ] && wait "${pids[i]}" 2>/dev/null
	done
	wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

rm -f "$demo"/server/testbed.env
"$demo"/otrtestbed -kind "$kind" -accounts alice,bob -components "prekeys.localhost:$secret" \
	-port "${DEMO_PORT:-0}" -dir "$demo"/server &
pids+=($!)

# Wait (bounded) for the server to be ready.
for _ in $(seq 1 120); do
	[ -f "$demo"/server/testbed.env ] && break
	kill -0 "${pids[0]}" 2>/dev/null || { echo "demo: the XMPP server did not start" >&2; exit 1; }
	sleep 0.5
done
[ -f "$demo"/server/testbed.env ] || { echo "demo: the XMPP server was not ready within 60 s" >&2; exit 1; }
# shellcheck disable=SC1091
. "$demo"/server/testbed.env

# The prekey server, as a component of the demo server.
"$demo"/otrprekeyd -name prekeys.localhost -secret-file "$demo"/prekeyd.secret \
	-server "$OTRCHAT_COMPONENT_ADDR" -data "$demo"/prekeyd -log-level info \
	> "$demo"/prekeyd.log 2>&1 &
pids+=($!)

# OTRv4 keys for each demo account, in its own key store, and a
# configuration for its otrchat (the passwords are the test bed's, loopback
# only).
for who in alice bob; do
	dir="$demo/$who"
	rm -rf "$dir"
	mkdir -p "$dir/home"
	chmod 700 "$dir"
	OTRCHAT_PASSPHRASE="demo-$who" "$demo/otrchat" keys create -account "$who@localhost" \
		-keystore "$dir/keys.db" -passphrase env > "$dir/keys.txt"
	pw_var="OTRCHAT_PASSWORD_${who^^}"
	cat > "$dir/config.toml" <<CONFIG
# make demo: $who's otrchat on the demo server (loopback only).
[[account]]
jid = "$who@localhost"
password = "${!pw_var}"
server = "127.0.0.1"
port = ${OTRCHAT_C2S_ADDR##*:}
ca_file = "$OTRCHAT_CA_FILE"
resource = "demo-$who"

[keystore]
path = "$dir/keys.db"
passphrase = "env"

[log]
file = "$dir/otrchat.log"
CONFIG
	chmod 600 "$dir/config.toml"
done

sleep 1
if ! kill -0 "${pids[1]}" 2>/dev/null; then
	echo "demo: the prekey server stopped; see $demo/prekeyd.log" >&2
	exit 1
fi

smp_secret=demo
if [ "${DEMO_RESPONDER:-1}" != 0 ]; then
	# Bob, answering as the demo responder.
	HOME="$demo/bob/home" OTRCHAT_PASSPHRASE=demo-bob \
		bash scripts/demo-responder.sh "$demo/otrchat" "$demo/bob/config.toml" "$smp_secret" "$demo/bob/responder.log" &
	pids+=($!)
	# Alice and bob see each other's presence: alice asks once in line mode,
	# the responder approves and asks back, alice approves.
	coproc ALICE { HOME="$demo/alice/home" OTRCHAT_PASSPHRASE=demo-alice exec "$demo/otrchat" --line -config "$demo/alice/config.toml" 2>>"$demo/alice/setup.log"; }
	exec {alice_in}>&"${ALICE[1]}"
	subscribed=""
	while IFS= read -r -t 30 line <&"${ALICE[0]}"; do
		printf '%s\n' "$line" >>"$demo/alice/setup.log"
		case "$line" in
		"connection online=yes "*)
			printf '/add bob@localhost Bob (demo responder)\n' >&"$alice_in"
			;;
		"subscription-request from=bob@localhost")
			printf '/approve bob@localhost\n' >&"$alice_in"
			;;
		"ok command=approve")
			subscribed=yes
			printf '/quit\n' >&"$alice_in"
			;;
		bye) break ;;
		esac
	done
	exec {alice_in}>&-
	wait "$ALICE_PID" 2>/dev/null || true
	[ -n "$subscribed" ] || echo "demo: alice and bob are not subscribed to each other yet (see $demo/alice/setup.log); /add bob@localhost in the chat" >&2
fi

cat <<INFO

The prekey server runs as prekeys.localhost, fingerprint
  $(sed -n 's/.*prekey server ready.* fingerprint=\([0-9A-Fa-f]*\).*/\1/p' "$demo/prekeyd.log" | head -n 1)
(its log is $demo/prekeyd.log).
OTRv4 device keys: $demo/alice/keys.db (passphrase demo-alice) and $demo/bob/keys.db (demo-bob);
their fingerprints are in $demo/alice/keys.txt and $demo/bob/keys.txt.
INFO

if [ "${DEMO_RESPONDER:-1}" != 0 ]; then
	cat <<INFO
Bob is online as the DEMO RESPONDER, a script (scripts/demo-responder.sh) that
answers every message and every SMP question. In the chat, as alice:
  /win bob          open the conversation with bob (or Alt-2)
  /otr start        start OTR (or just type: the policy holds messages until OTR is up)
  hello             bob's script answers
  /smp ask What is the demo secret? $smp_secret
                    verify bob's device: the roster and status bar then say "verified"
  /help             every command;  /quit or Ctrl-C leaves and stops the demo
INFO
else
	cat <<INFO
Bob is offline. To chat as bob in a second terminal:
  HOME=$demo/bob/home OTRCHAT_PASSPHRASE=demo-bob $demo/otrchat -config $demo/bob/config.toml
INFO
fi

if [ -t 0 ] && [ -t 1 ]; then
	[ -z "${DEMO_NO_WAIT:-}" ] && { echo; read -r -t 10 -p "Press Enter to open the chat as alice… " _ || true; }
	HOME="$demo/alice/home" OTRCHAT_PASSPHRASE=demo-alice "$demo/otrchat" -config "$demo/alice/config.toml" || true
else
	echo "No terminal: to chat as alice, run in a terminal:"
	echo "  HOME=$demo/alice/home OTRCHAT_PASSPHRASE=demo-alice $demo/otrchat -config $demo/alice/config.toml"
	echo "Press Ctrl-C to stop everything."
	wait "${pids[0]}"
fi
