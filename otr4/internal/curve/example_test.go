package curve_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/otrchat/otrchat/otr4/internal/curve"
)

// A key pair signs a message; the peer decodes the public POINT and verifies.
func Example() {
	key, err := curve.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	sig := key.Sign([]byte("client profile"))

	pub, err := new(curve.Point).SetBytes(key.PublicBytes())
	if err != nil {
		panic(err)
	}
	fmt.Println(curve.Verify(pub, []byte("client profile"), sig))
	fmt.Println(errors.Is(curve.Verify(pub, []byte("forged profile"), sig), curve.ErrInvalidSignature))
	// Output:
	// <nil>
	// true
}

// Diffie-Hellman on Ed448 points with secrets chosen as the spec's
// "Considerations while working with elliptic curve parameters" prescribes.
func ExampleRandomScalar() {
	a, _ := curve.RandomScalar(rand.Reader)
	b, _ := curve.RandomScalar(rand.Reader)
	A := new(curve.Point).ScalarBaseMult(a)
	B := new(curve.Point).ScalarBaseMult(b)

	// Each side decodes the other's POINT strictly before using it.
	peerB, _ := new(curve.Point).SetBytes(B.Bytes())
	peerA, _ := new(curve.Point).SetBytes(A.Bytes())
	k1 := new(curve.Point).ScalarMult(a, peerB)
	k2 := new(curve.Point).ScalarMult(b, peerA)
	fmt.Println(bytes.Equal(k1.Bytes(), k2.Bytes()))
	a.Wipe()
	b.Wipe()
	// Output: true
}

func ExamplePoint_SetBytes() {
	identity := curve.NewIdentityPoint().Bytes()
	_, err := new(curve.Point).SetBytes(identity)
	fmt.Println(err)
	_, err = new(curve.Point).SetBytes(identity[:56])
	fmt.Println(err)
	// Output:
	// curve: point is the identity
	// curve: invalid point encoding
}
