package otrvectors

import (
	"flag"
	"fmt"
	"strings"
	"testing"
)

var tamperAll = flag.Bool("tamper-all", false, "TestTamper changes every key of every vector file, not a sample")

// checkers maps each vector file to its checker.
var checkers = map[string]func(*vec){
	"client-profile.txt":            checkClientProfile,
	"prekey-profile.txt":            checkPrekeyProfile,
	"dake-interactive.txt":          checkInteractiveDAKE,
	"dake-non-interactive.txt":      checkNonInteractiveDAKE,
	"data-messages.txt":             checkDataMessages,
	"smp.txt":                       checkSMP,
	"fragmentation.txt":             checkFragmentation,
	"prekey-server-dake.txt":        checkPrekeyServerDAKE,
	"prekey-server-publication.txt": checkPrekeyServerPublication,
}

// TestVectorFiles checks every vector file with the independent
// implementation of the spec's formulas.
func TestVectorFiles(t *testing.T) {
	for name, check := range checkers {
		t.Run(strings.TrimSuffix(name, ".txt"), func(t *testing.T) {
			v := load(t, name, nil)
			check(v)
			v.done()
		})
	}
}

// recorder is a reporter that notes failures; Fatal ends the check with a
// panic that run recovers.
type recorder struct{ failed []string }

type fatal struct{}

func (r *recorder) Helper()                   {}
func (r *recorder) Error(a ...any)            { r.failed = append(r.failed, fmt.Sprint(a...)) }
func (r *recorder) Errorf(f string, a ...any) { r.failed = append(r.failed, fmt.Sprintf(f, a...)) }
func (r *recorder) Fatal(a ...any)            { r.Error(a...); panic(fatal{}) }
func (r *recorder) Fatalf(f string, a ...any) {
	r.Errorf(f, a...)
	panic(fatal{})
}

func (r *recorder) run(name string, check func(*vec), mutate func([]byte) []byte) {
	defer func() {
		if e := recover(); e != nil {
			if _, ok := e.(fatal); !ok {
				r.failed = append(r.failed, fmt.Sprint("panic: ", e))
			}
		}
	}()
	v := load(r, name, mutate)
	check(v)
	v.done()
}

// tamper changes the value of key in a vector file so that it still
// parses as the same kind of value: the last hex digit, decimal digit or
// letter changes, a quoted text gets one more letter, a wire string one
// base64 letter in its middle, an empty value gets "00".
func tamper(file []byte, key string) []byte {
	lines := strings.Split(string(file), "\n")
	for i, l := range lines {
		k, val, ok := strings.Cut(l, ":")
		if !ok || k != key || strings.HasPrefix(l, "#") {
			continue
		}
		val = strings.TrimPrefix(val, " ")
		switch {
		case val == "":
			val = "00"
		case strings.HasPrefix(val, `"`):
			val = val[:len(val)-1] + `x"`
		case strings.HasPrefix(val, "?OTR:"):
			m := len(val) / 2
			c := byte('A')
			if val[m] == 'A' {
				c = 'B'
			}
			val = val[:m] + string(c) + val[m+1:]
		case strings.HasPrefix(val, "?OTR|"):
			val = val[:len(val)-2] + "Q,"
		default:
			last := val[len(val)-1]
			var c byte
			switch {
			case last == '0':
				c = '1'
			case last >= '1' && last <= '9', last >= 'a' && last <= 'f':
				c = '0'
			default:
				val += "x"
			}
			if c != 0 {
				val = val[:len(val)-1] + string(c)
			}
		}
		lines[i] = k + ": " + val
	}
	return []byte(strings.Join(lines, "\n"))
}

// TestTamper changes one value at a time (a sample of each file's keys, or
// all of them with -tamper-all) and expects the checker to fail: no
// recorded value is left unchecked, and no check passes whatever the value.
func TestTamper(t *testing.T) {
	for name, check := range checkers {
		name, check := name, check
		t.Run(strings.TrimSuffix(name, ".txt"), func(t *testing.T) {
			v := load(t, name, nil)
			keys := v.f.Keys()
			step := 1
			if !*tamperAll {
				step = max(1, len(keys)/10)
			}
			for i := 1; i < len(keys); i += step {
				key := keys[i]
				r := new(recorder)
				r.run(name, check, func(b []byte) []byte { return tamper(b, key) })
				if len(r.failed) == 0 {
					t.Errorf("%s: changing %s goes unnoticed", name, key)
				}
			}
		})
	}
}
