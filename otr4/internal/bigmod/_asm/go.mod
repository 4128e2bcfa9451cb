// The avo generator of nat_amd64.s, in its own module so that otrchat's
// go.mod does not depend on avo. avo loads the bigmod package to read the
// Go declarations it implements, hence the require and replace of the main
// module (which `go mod tidy` would drop: nothing here imports it).
module github.com/otrchat/otrchat/otr4/internal/bigmod/_asm

go 1.26.0

require (
	github.com/mmcloughlin/avo v0.5.0
	github.com/otrchat/otrchat v0.0.0
)

require (
	golang.org/x/mod v0.41.0 // indirect
	golang.org/x/sync v0.24.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/tools v0.51.0 // indirect
)

replace github.com/otrchat/otrchat => ../../../..
