# otrchat: the two commands of the README. Both work on a fresh Debian
# machine with Go installed; they install Debian packages when missing.

.PHONY: demo test short

# A local chat on 127.0.0.1: Prosody with accounts alice and bob, until Ctrl-C.
demo:
	bash scripts/demo.sh

# Every check CI runs: gofmt, go vet, all tests with both XMPP servers.
test:
	bash .ci/run

# Quick local loop: unit tests only (integration tests skip under -short).
short:
	go test -short ./...
