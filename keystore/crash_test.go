package keystore

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	crashEnvPath = "OTRCHAT_KEYSTORE_CRASH_PATH"
	crashEnvBase = "OTRCHAT_KEYSTORE_CRASH_BASE"
)

func crashContact(i uint32) string { return fmt.Sprintf("c%d@example.org", i) }

func crashFingerprint(i uint32) []byte {
	fp := make([]byte, FingerprintSize)
	binary.BigEndian.PutUint32(fp, i)
	fp[FingerprintSize-1] = 0xAB
	return fp
}

func crashPrekey(i uint32) PrekeySecret {
	p := PrekeySecret{ID: i, ECDHSecret: make([]byte, ECDHSecretSize), DHSecret: make([]byte, DHSecretSize), Created: ts(int64(i))}
	binary.BigEndian.PutUint32(p.ECDHSecret, i)
	return p
}

// TestCrashHelperProcess is the writer killed by TestKill9; it does nothing in a normal run.
// It writes in a loop and prints one line per operation after the transaction committed.
func TestCrashHelperProcess(t *testing.T) {
	path := os.Getenv(crashEnvPath)
	if path == "" {
		t.Skip("helper process for TestKill9")
	}
	base, err := strconv.ParseUint(os.Getenv(crashEnvBase), 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, pass, &Options{KDF: testKDF, LockTimeout: 5 * time.Second})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	for i := uint32(base); ; i++ {
		if err := s.AddPrekeySecrets(alice, tagA, crashPrekey(i)); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		fmt.Printf("put %d\n", i)
		if i%2 == 0 {
			if _, err := s.TakePrekeySecret(alice, tagA, i); err != nil {
				fmt.Println("error", err)
				os.Exit(2)
			}
			fmt.Printf("took %d\n", i)
		}
		d := TrustDecision{Contact: crashContact(i), Fingerprint: crashFingerprint(i), Trusted: i%3 != 0, Method: MethodSMP, Time: ts(int64(i))}
		if err := s.SetTrust(alice, d); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		fmt.Printf("trust %d\n", i)
	}
}

// TestKill9 kills a writing process with SIGKILL at random moments, several times, and checks
// after each kill that the store opens, that no acknowledged taken prekey secret came back,
// and that no acknowledged prekey secret or trust decision is lost.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	path := filepath.Join(t.TempDir(), "keys.db")
	s, err := Create(path, pass, testOpts())
	must(t, err)
	must(t, s.PutIdentity(alice, Identity{InstanceTag: tagA, LongTermSeed: randBytes(t, SeedSize), ForgingPublic: randBytes(t, PublicKeySize)}))
	must(t, s.Close())

	took := map[uint32]bool{}
	put := map[uint32]bool{}
	var trusted []uint32
	rounds := 6
	for r := range rounds {
		base := uint32(r) * 1_000_000
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnvPath+"="+path, crashEnvBase+"="+strconv.Itoa(int(base)))
		out, err := cmd.StdoutPipe()
		must(t, err)
		must(t, cmd.Start())
		lines := make(chan string, 1<<16)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Wait for the first acknowledged write, then kill at a random moment.
		select {
		case l, ok := <-lines:
			if !ok || strings.HasPrefix(l, "error") {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("round %d: helper failed: %q", r, l)
			}
			recordAck(t, l, put, took, &trusted)
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("round %d: helper wrote nothing", r)
		}
		time.Sleep(time.Duration(10+rand.IntN(300)) * time.Millisecond)
		must(t, cmd.Process.Signal(syscall.SIGKILL))
		werr := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(werr, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: helper ended with %v, not by SIGKILL", r, werr)
		}
		n := 0
		for l := range lines {
			recordAck(t, l, put, took, &trusted)
			n++
		}

		s, err := Open(path, pass, testOpts())
		if err != nil {
			t.Fatalf("round %d: store does not open after kill -9: %v", r, err)
		}
		ids, err := s.PrekeySecretIDs(alice, tagA)
		must(t, err)
		for id := range took {
			if _, found := slices.BinarySearch(ids, id); found {
				t.Errorf("round %d: taken prekey %d is back", r, id)
			}
		}
		for id := range put {
			if _, found := slices.BinarySearch(ids, id); !found && !took[id] && id%2 == 1 {
				t.Errorf("round %d: acknowledged prekey %d lost", r, id)
			}
		}
		for _, i := range trusted {
			d, err := s.Trust(alice, crashContact(i), crashFingerprint(i))
			if err != nil {
				t.Errorf("round %d: acknowledged trust decision %d: %v", r, i, err)
			} else if d.Trusted != (i%3 != 0) || d.Method != MethodSMP {
				t.Errorf("round %d: trust decision %d altered: %+v", r, i, d)
			}
		}
		must(t, s.Close())
		t.Logf("round %d: killed after %d acknowledged ops; %d prekeys stored, %d taken, %d trust decisions in total",
			r, n+1, len(ids), len(took), len(trusted))
	}
	if len(took) == 0 || len(trusted) < rounds {
		t.Fatalf("too little was written to test anything: %d taken, %d trust", len(took), len(trusted))
	}
}

func recordAck(t *testing.T, l string, put, took map[uint32]bool, trusted *[]uint32) {
	var i uint32
	switch {
	case strings.HasPrefix(l, "error"):
		t.Fatalf("helper: %s", l)
	case sscan(l, "put %d", &i):
		put[i] = true
	case sscan(l, "took %d", &i):
		took[i] = true
	case sscan(l, "trust %d", &i):
		*trusted = append(*trusted, i)
	case strings.HasPrefix(l, "=== RUN"), strings.HasPrefix(l, "PASS"):
	default:
		t.Fatalf("helper printed %q", l)
	}
}

func sscan(l, format string, i *uint32) bool {
	_, err := fmt.Sscanf(l, format, i)
	return err == nil
}
