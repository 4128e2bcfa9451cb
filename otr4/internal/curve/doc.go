// Package curve is the Ed448-Goldilocks layer of the OTRv4 engine: points and
// scalars of the prime-order subgroup, their POINT and SCALAR encodings, key
// pairs and RFC 8032 Ed448 signatures.
//
// It implements these sections of the OTRv4 specification: "Elliptic Curve
// Parameters" (including "Verifying that a point is on the curve"),
// "Considerations while working with elliptic curve parameters" (RandomScalar,
// PrunedScalar), "Encoding and Decoding" (Scalar and Point) and the key
// generation of "Public keys, Shared Prekeys, Forging keys and Fingerprints",
// with signatures as in RFC 8032 section 5.2 (Ed448, empty context).
//
// Decoding is strict: Point.SetBytes accepts only canonical encodings of
// points of the prime-order subgroup other than the identity, and
// Scalar.SetCanonicalBytes only 57-byte encodings of integers below q. A
// Point can therefore only ever hold a point of the prime-order subgroup.
//
// Two backends implement the arithmetic: github.com/cloudflare/circl (the
// default) and github.com/otrv4/ed448 (build tag otrv4ed448). Only this
// package tree imports a curve library.
//
// Point and Scalar values must not be copied by value; use Set. Methods
// return their receiver, in the style of filippo.io/edwards25519. The zero
// Scalar is 0; the zero Point is not valid, use NewIdentityPoint or
// NewGeneratorPoint.
package curve
