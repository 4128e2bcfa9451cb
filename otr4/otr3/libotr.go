package otr3

import (
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/otrchat/otrchat/otr4/internal/dsa"
	"github.com/otrchat/otrchat/otr4/internal/sexp"
)

// LibotrKey is one account's key from a libotr private key file.
type LibotrKey struct {
	Account  string // "alice@example.org"
	Protocol string // "prpl-jabber", "xmpp", ...
	Key      *PrivateKey
}

// ErrLibotrKeyFile is wrapped by the errors of ImportLibotrKeys.
var ErrLibotrKeyFile = errors.New("otr3: malformed libotr private key file")

// MaxLibotrKeyFile bounds the size of a key file ImportLibotrKeys reads.
const MaxLibotrKeyFile = 1 << 20

// ImportLibotrKeys reads a libotr private key file (otr.private_key, as
// Pidgin, Profanity and other libotr clients keep it):
//
//	(privkeys (account (name "alice@example.org") (protocol prpl-jabber)
//	  (private-key (dsa (p #00FC…#) (q #…#) (g #…#) (y #…#) (x #…#)))))
//
// Every key is checked (y = g^x mod p) and has the fingerprint libotr shows
// for it.
func ImportLibotrKeys(data []byte) ([]LibotrKey, error) {
	if len(data) > MaxLibotrKeyFile {
		return nil, fmt.Errorf("%w: %d bytes", ErrLibotrKeyFile, len(data))
	}
	root, err := sexp.Parse(string(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLibotrKeyFile, err)
	}
	if root.Head() != "privkeys" {
		return nil, fmt.Errorf("%w: no privkeys list", ErrLibotrKeyFile)
	}
	var out []LibotrKey
	for _, acc := range root.List[1:] {
		if !acc.IsList || acc.Head() != "account" {
			return nil, fmt.Errorf("%w: unexpected element in privkeys", ErrLibotrKeyFile)
		}
		name, proto := acc.Value("name"), acc.Value("protocol")
		pk := acc.Find("private-key")
		if name == nil || proto == nil || pk == nil || len(pk.List) != 2 {
			return nil, fmt.Errorf("%w: account without name, protocol or private-key", ErrLibotrKeyFile)
		}
		d := pk.List[1]
		if d.Head() != "dsa" {
			return nil, fmt.Errorf("%w: key type %q is not dsa", ErrLibotrKeyFile, d.Head())
		}
		vals := map[string]*big.Int{}
		for _, n := range []string{"p", "q", "g", "y", "x"} {
			v := d.Value(n)
			if v == nil {
				return nil, fmt.Errorf("%w: dsa key without %s", ErrLibotrKeyFile, n)
			}
			vals[n] = new(big.Int).SetBytes(v)
		}
		k, err := dsa.NewPrivateKey(dsa.PublicKey{P: vals["p"], Q: vals["q"], G: vals["g"], Y: vals["y"]}, vals["x"].Bytes())
		vals["x"].SetInt64(0)
		if err != nil {
			return nil, fmt.Errorf("%w: account %q: %v", ErrLibotrKeyFile, name, err)
		}
		out = append(out, LibotrKey{Account: string(name), Protocol: string(proto), Key: &PrivateKey{k}})
	}
	return out, nil
}

// ExportLibotrKey writes one account's key in libotr's private key file
// format, so that a libotr client can use a key made here.
func ExportLibotrKey(account, protocol string, k *PrivateKey) string {
	hexOf := func(v *big.Int) string {
		b := v.Bytes()
		if len(b) > 0 && b[0]&0x80 != 0 {
			b = append([]byte{0}, b...) // libgcrypt writes signed values
		}
		return fmt.Sprintf("#%X#", b)
	}
	pub := k.k.Public()
	x := new(big.Int).SetBytes(k.k.X())
	var b strings.Builder
	fmt.Fprintf(&b, "(privkeys\n (account\n(name %q)\n(protocol %s)\n(private-key \n (dsa \n", account, protocol)
	for _, f := range []struct {
		n string
		v *big.Int
	}{{"p", pub.P}, {"q", pub.Q}, {"g", pub.G}, {"y", pub.Y}, {"x", x}} {
		fmt.Fprintf(&b, "  (%s %s)\n", f.n, hexOf(f.v))
	}
	b.WriteString("  )\n )\n )\n)\n")
	return b.String()
}
