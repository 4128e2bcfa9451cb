package keystore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
)

// bbolt never overwrites a page in place: a transaction writes changed pages
// to free ones and frees the old copies. A deleted or replaced record (a
// taken prekey secret, a forgotten device, every record re-sealed by
// ChangePassphrase, the keys wrapped under an old passphrase) therefore stays
// in the file, still decryptable with the passphrase, until bbolt happens to
// reuse its page. scrubFreePages closes that gap: after every write
// transaction it zeroes, in the file itself, each page bbolt's freelist
// names that it has not zeroed before.
//
// A free page is referenced by nothing but the previous meta page (bbolt's
// fallback when the newest meta page fails its checksum; docs/keystore.md),
// which would then see zeros and report ErrCorrupt instead of bringing a
// taken secret back. Pages are zeroed only after bbolt's commit has been
// synced, and while the Store's lock keeps every other transaction of this
// process out; bbolt's file lock keeps other processes out.

// scrubFreePages zeroes the free pages of the bbolt file at path that are not
// in done (pages known to be zero already) and returns the set of free pages,
// all zero now. With check, a page is read first and only written if it is
// not zero already (Open uses this, so opening a clean store writes nothing).
func scrubFreePages(path string, done map[uint64]bool, check bool) (map[uint64]bool, error) {
	f, err := os.OpenFile(path, os.O_RDWR|oNoFollow, 0)
	if err != nil {
		return done, fmt.Errorf("keystore: scrubbing free pages: %w", err)
	}
	defer f.Close()
	ids, ps, err := freePages(f)
	if err != nil {
		return done, fmt.Errorf("keystore: scrubbing free pages: %w", err)
	}
	now := make(map[uint64]bool, len(ids))
	zero := make([]byte, ps)
	page := make([]byte, ps)
	wrote := false
	for _, id := range ids {
		if done[id] {
			now[id] = true
			continue
		}
		if check {
			if _, err := f.ReadAt(page, int64(id)*int64(ps)); err == nil && bytes.Equal(page, zero) {
				now[id] = true
				continue
			}
		}
		if _, err := f.WriteAt(zero, int64(id)*int64(ps)); err != nil {
			return done, fmt.Errorf("keystore: scrubbing free page %d: %w", id, err)
		}
		wrote = true
		now[id] = true
	}
	if wrote {
		if err := f.Sync(); err != nil {
			return done, fmt.Errorf("keystore: scrubbing free pages: %w", err)
		}
	}
	return now, nil
}

// freePages reads the page size and the freelist (free and pending pages) of
// the newest valid meta page, with the same choice of meta page as bbolt and
// checkBolt.
func freePages(f *os.File) ([]uint64, int, error) {
	head := make([]byte, 1<<12)
	n, _ := f.ReadAt(head, 0)
	head = head[:n]
	m0 := parseMeta(head, 0)
	ps := m0.pageSize
	if !m0.ok {
		ps = uint32(os.Getpagesize())
	}
	if ps < 1024 || ps > 1<<20 || ps&(ps-1) != 0 {
		return nil, 0, corrupt("bad page size in meta page")
	}
	metas := make([]byte, 2*int(ps))
	if _, err := f.ReadAt(metas, 0); err != nil {
		return nil, 0, err
	}
	m0, m1 := parseMeta(metas, 0), parseMeta(metas, int(ps))
	m := m0
	if m1.ok && (!m0.ok || m1.txid > m0.txid) {
		m = m1
	}
	if !m.ok || m.pageSize != ps {
		return nil, 0, corrupt("no valid bbolt meta page")
	}
	if m.freelist == noFreelist {
		return nil, int(ps), nil
	}
	if m.freelist < 2 || m.freelist >= m.hwm {
		return nil, 0, corrupt("freelist page outside the file")
	}
	le := binary.LittleEndian
	h := make([]byte, pageHeaderSize)
	if _, err := f.ReadAt(h, int64(m.freelist)*int64(ps)); err != nil {
		return nil, 0, err
	}
	overflow := uint64(le.Uint32(h[12:]))
	if le.Uint64(h) != m.freelist || le.Uint16(h[8:])&flagFreelist == 0 || m.freelist+overflow >= m.hwm {
		return nil, 0, corrupt("bad freelist page header")
	}
	p := make([]byte, (overflow+1)*uint64(ps))
	if _, err := f.ReadAt(p, int64(m.freelist)*int64(ps)); err != nil {
		return nil, 0, err
	}
	count, start := uint64(le.Uint16(p[10:])), uint64(pageHeaderSize)
	if count == 0xFFFF {
		count, start = le.Uint64(p[pageHeaderSize:]), pageHeaderSize+8
	}
	if count > (uint64(len(p))-start)/8 {
		return nil, 0, corrupt("freelist count exceeds its page")
	}
	ids := make([]uint64, 0, count)
	for i := uint64(0); i < count; i++ {
		id := le.Uint64(p[start+8*i:])
		if id < 2 || id >= m.hwm || (id >= m.freelist && id <= m.freelist+overflow) {
			return nil, 0, corrupt(fmt.Sprintf("freelist names page %d", id))
		}
		ids = append(ids, id)
	}
	return ids, int(ps), nil
}
