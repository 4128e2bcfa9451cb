#!/usr/bin/env bash
# The demo responder of `make demo`: bob's otrchat in line mode
# (docs/line-mode.md), driven by this script. It is a script, not a person,
# and every message it sends says so. It
#   - accepts every subscription request and asks back;
#   - answers each message it receives with an echo of it and whether it
#     arrived encrypted;
#   - answers every SMP question with the demo secret, so the person at the
#     other end can verify bob's device and see the verified state.
#
# usage: scripts/demo-responder.sh OTRCHAT CONFIG SECRET LOG
# The key store passphrase comes from OTRCHAT_PASSPHRASE.
set -uo pipefail
bin=$1 cfg=$2 secret=$3 log=$4

coproc BOB { exec "$bin" --line -config "$cfg" 2>>"$log"; }
# Keep our own copies: bash unsets BOB when the coprocess ends.
pid=$BOB_PID
exec {in}<&"${BOB[0]}" {out}>&"${BOB[1]}"
say() { printf '%s\n' "$*" >&"$out"; } 2>/dev/null
stop() {
	trap - INT TERM EXIT
	say /quit
	exec {out}>&-
	wait "$pid" 2>/dev/null
	exit 0
}
trap stop INT TERM EXIT

field() { # field NAME LINE: the value of NAME=... (bare or quoted) in a line
	sed -n "s/.* $1=\\(\"\\([^\"\\\\]\\|\\\\.\\)*\"\\|[^ ]*\\).*/\\1/p" <<<"$2"
}

while IFS= read -r line <&"$in"; do
	printf '%s\n' "$line" >>"$log"
	case "$line" in
	"subscription-request from="*)
		who=${line#subscription-request from=}
		say "/approve $who"
		say "/add $who"
		;;
	"message "*" dir=in "*)
		who=$(field contact "$line")
		enc=$(field encrypted "$line")
		text=${line#* text=}
		if [ "$enc" = yes ]; then
			how="encrypted with OTRv4"
		else
			how="in PLAINTEXT"
		fi
		say "/msg $who [demo responder, a script] I got $text $how. Verify me: /smp ask What is the demo secret? $secret"
		;;
	"smp "*" kind=asked"*)
		who=$(field contact "$line")
		say "/win $who"
		say "/smp answer $secret"
		;;
	"smp "*" kind=succeeded"*)
		who=$(field contact "$line")
		say "/msg $who [demo responder, a script] SMP succeeded: we have verified each other."
		;;
	esac
done
