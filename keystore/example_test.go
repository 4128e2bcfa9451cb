package keystore_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/otrchat/otrchat/keystore"
)

func Example() {
	dir, _ := os.MkdirTemp("", "keystore-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "keys.db")
	pass := []byte("correct horse battery staple")
	// Cheap KDF parameters keep the example fast; omit KDF to use DefaultKDF.
	opts := &keystore.Options{KDF: keystore.KDFParams{Time: 1, Memory: 64, Threads: 1}}

	s, err := keystore.Create(path, pass, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	const tag = 0x1234abcd
	err = s.PutIdentity("alice@example.org", keystore.Identity{
		InstanceTag:   tag,
		LongTermSeed:  bytes.Repeat([]byte{1}, keystore.SeedSize),
		ForgingPublic: bytes.Repeat([]byte{2}, keystore.PublicKeySize),
	})
	if err == nil {
		err = s.AddPrekeySecrets("alice@example.org", tag, keystore.PrekeySecret{
			ID: 7, ECDHSecret: make([]byte, keystore.ECDHSecretSize), DHSecret: make([]byte, keystore.DHSecretSize)})
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := s.TakePrekeySecret("alice@example.org", tag, 7)
	fmt.Println("took prekey", p.ID, err)
	_, err = s.TakePrekeySecret("alice@example.org", tag, 7)
	fmt.Println("again:", errors.Is(err, keystore.ErrNotFound))
	s.Close()

	_, err = keystore.Open(path, []byte("guess"), opts)
	fmt.Println(errors.Is(err, keystore.ErrWrongPassphrase))
	// Output:
	// took prekey 7 <nil>
	// again: true
	// true
}
