package keystore

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"os"
)

// checkFile validates the bbolt structure of the file from a private copy of its bytes, with
// bounds-checked slices, before bbolt maps it. bbolt trusts page identifiers it reads from the
// file and dereferences them in its memory map without bounds checks, so a flipped byte in a
// page reference makes it fault, possibly in a goroutine of its own (Tx.Check) where no recover
// can catch it. This walk follows the same references (the meta page bbolt will pick, the
// freelist, every branch, leaf and bucket, inline buckets included) and rejects any that
// points outside the used part of the file or at a page of the wrong kind.
//
// The file format is bbolt's (go.etcd.io/bbolt internal/common, little-endian on the
// platforms otrchat supports).
func checkFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	return checkBolt(data)
}

const (
	boltMagic        = 0xED0CDAED
	boltVersion      = 2
	pageHeaderSize   = 16
	elemSize         = 16
	flagBranch       = 0x01
	flagLeaf         = 0x02
	flagMeta         = 0x04
	flagFreelist     = 0x10
	leafFlagBucket   = 0x01
	bucketHeaderSize = 16
	noFreelist       = ^uint64(0)
	maxTreeDepth     = 64
)

type boltMeta struct {
	pageSize            uint32
	root, freelist, hwm uint64
	txid                uint64
	ok                  bool
}

func parseMeta(data []byte, off int) boltMeta {
	if off < 0 || len(data) < off+pageHeaderSize+64 {
		return boltMeta{}
	}
	m := data[off+pageHeaderSize : off+pageHeaderSize+64]
	le := binary.LittleEndian
	h := fnv.New64a()
	h.Write(m[:56])
	if le.Uint32(m[0:]) != boltMagic || le.Uint32(m[4:]) != boltVersion || le.Uint64(m[56:]) != h.Sum64() {
		return boltMeta{}
	}
	if le.Uint16(data[off+8:]) != flagMeta {
		return boltMeta{}
	}
	return boltMeta{pageSize: le.Uint32(m[8:]), root: le.Uint64(m[16:]), freelist: le.Uint64(m[32:]),
		hwm: le.Uint64(m[40:]), txid: le.Uint64(m[48:]), ok: true}
}

type boltChecker struct {
	data    []byte
	ps      uint64
	hwm     uint64
	visited map[uint64]bool
}

func checkBolt(data []byte) error {
	// Which meta page bbolt uses: the page size comes from meta page 0 if it is valid, else
	// from the one at the OS page size; then the valid meta with the higher txid wins.
	m0 := parseMeta(data, 0)
	ps := m0.pageSize
	if !m0.ok {
		ps = uint32(os.Getpagesize())
	}
	if ps < 1024 || ps > 1<<20 || ps&(ps-1) != 0 {
		return corrupt("bad page size in meta page")
	}
	m0 = parseMeta(data, 0)
	m1 := parseMeta(data, int(ps))
	m := m0
	if m1.ok && (!m0.ok || m1.txid > m0.txid) {
		m = m1
	}
	if !m.ok || m.pageSize != ps {
		if len(data) < 2*int(ps) {
			return fmt.Errorf("%w: %d bytes cannot hold the two meta pages", ErrTruncated, len(data))
		}
		return corrupt("no valid bbolt meta page")
	}
	c := &boltChecker{data: data, ps: uint64(ps), hwm: m.hwm, visited: map[uint64]bool{}}
	if m.hwm < 4 {
		return corrupt("meta page names fewer than 4 pages")
	}
	if m.hwm > uint64(len(data))/c.ps {
		return fmt.Errorf("%w: %d bytes, but %d pages of %d bytes are in use", ErrTruncated, len(data), m.hwm, ps)
	}
	if m.freelist != noFreelist {
		if err := c.freelist(m.freelist); err != nil {
			return err
		}
	}
	return c.tree(m.root, 0)
}

// page returns the bytes of page id including its overflow pages.
func (c *boltChecker) page(id uint64, want uint16) ([]byte, error) {
	if id < 2 || id >= c.hwm {
		return nil, corrupt(fmt.Sprintf("page reference %d outside 2..%d", id, c.hwm))
	}
	if c.visited[id] {
		return nil, corrupt(fmt.Sprintf("page %d referenced twice", id))
	}
	c.visited[id] = true
	off := id * c.ps
	le := binary.LittleEndian
	h := c.data[off : off+pageHeaderSize]
	overflow := uint64(le.Uint32(h[12:]))
	if le.Uint64(h) != id || le.Uint16(h[8:])&want == 0 || id+overflow >= c.hwm {
		return nil, corrupt(fmt.Sprintf("page %d has a bad header", id))
	}
	return c.data[off : off+(overflow+1)*c.ps], nil
}

func (c *boltChecker) freelist(id uint64) error {
	p, err := c.page(id, flagFreelist)
	if err != nil {
		return err
	}
	le := binary.LittleEndian
	n, start := uint64(le.Uint16(p[10:])), uint64(pageHeaderSize)
	if n == 0xFFFF {
		if len(p) < pageHeaderSize+8 {
			return corrupt("freelist page too short")
		}
		n, start = le.Uint64(p[pageHeaderSize:]), pageHeaderSize+8
	}
	if n > (uint64(len(p))-start)/8 {
		return corrupt("freelist count exceeds its page")
	}
	for i := uint64(0); i < n; i++ {
		if f := le.Uint64(p[start+8*i:]); f < 2 || f >= c.hwm {
			return corrupt(fmt.Sprintf("freelist names page %d outside the file", f))
		}
	}
	return nil
}

// tree walks the B+tree rooted at page id.
func (c *boltChecker) tree(id uint64, depth int) error {
	if depth > maxTreeDepth {
		return corrupt("bucket nesting too deep")
	}
	p, err := c.page(id, flagBranch|flagLeaf)
	if err != nil {
		return err
	}
	return c.node(p, depth)
}

// node checks one branch or leaf page (p starts with its page header).
func (c *boltChecker) node(p []byte, depth int) error {
	le := binary.LittleEndian
	flags, n := le.Uint16(p[8:]), int(le.Uint16(p[10:]))
	if pageHeaderSize+n*elemSize > len(p) {
		return corrupt("page element count exceeds the page")
	}
	for i := 0; i < n; i++ {
		e := pageHeaderSize + i*elemSize
		switch flags {
		case flagBranch:
			pos, ksize := int(le.Uint32(p[e:])), int(le.Uint32(p[e+4:]))
			if pos < 0 || ksize < 0 || e+pos+ksize > len(p) || e+pos+ksize < e {
				return corrupt("branch key outside its page")
			}
			if err := c.tree(le.Uint64(p[e+8:]), depth); err != nil {
				return err
			}
		case flagLeaf:
			lflags := le.Uint32(p[e:])
			pos, ksize, vsize := uint64(le.Uint32(p[e+4:])), uint64(le.Uint32(p[e+8:])), uint64(le.Uint32(p[e+12:]))
			end := uint64(e) + pos + ksize + vsize
			if end > uint64(len(p)) {
				return corrupt("leaf key or value outside its page")
			}
			if lflags&^leafFlagBucket != 0 {
				return corrupt("bad leaf element flags")
			}
			if lflags&leafFlagBucket == 0 {
				continue
			}
			v := p[uint64(e)+pos+ksize : end]
			if len(v) < bucketHeaderSize {
				return corrupt("bucket header too short")
			}
			root := le.Uint64(v)
			if root != 0 {
				if err := c.tree(root, depth+1); err != nil {
					return err
				}
				continue
			}
			inline := v[bucketHeaderSize:]
			if len(inline) < pageHeaderSize || le.Uint16(inline[8:]) != flagLeaf {
				return corrupt("bad inline bucket")
			}
			if err := c.node(inline, depth+1); err != nil {
				return err
			}
		default:
			return corrupt("page is neither branch nor leaf")
		}
	}
	return nil
}
