package keystore

import (
	"crypto/cipher"
	"reflect"
	"unsafe"
)

// wipeAEAD zeroes the key an AEAD object keeps in its own memory.
//
// chacha20poly1305.NewX copies the key into an unexported struct ({key
// [32]byte} in golang.org/x/crypto) and offers no way to erase it, so
// clearing the slice the key came from leaves this copy reachable for as
// long as the AEAD is. The struct is reached through reflection and zeroed
// in place, but only when it holds no pointers (plain bytes and integers),
// so zeroing it can never confuse the garbage collector; an AEAD of another
// shape is left alone (TestKeysWipedOnClose notices if x/crypto changes the
// layout). The AEAD must not be used afterwards.
func wipeAEAD(a cipher.AEAD) {
	if a == nil {
		return
	}
	v := reflect.ValueOf(a)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return
	}
	e := v.Elem()
	if e.Kind() != reflect.Struct || !pointerFree(e.Type()) || e.Type().Size() == 0 {
		return
	}
	clear(unsafe.Slice((*byte)(unsafe.Pointer(e.UnsafeAddr())), e.Type().Size()))
}

// pointerFree reports whether values of t hold no pointers at all.
func pointerFree(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return true
	case reflect.Array:
		return pointerFree(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if !pointerFree(t.Field(i).Type) {
				return false
			}
		}
		return true
	}
	return false
}
