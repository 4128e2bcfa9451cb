package config

import (
	"strconv"
	"strings"
)

// lineIndex maps keys of a TOML document to the line that defines them. toml.MetaData gives
// no positions for keys, so this scanner follows table headers ([a.b], [[a]]) and key/value
// lines, skipping multi-line strings and arrays. Paths use "[i]" for the i-th element of an
// array of tables, e.g. "account[1].tls"; lookups without indices ("account.tls", as
// MetaData.Undecoded reports them) find the first definition.
type lineIndex struct {
	exact map[string]int // "account[1].tls" -> line
	plain map[string]int // "account.tls" -> first line
}

func indexLines(src string) *lineIndex {
	ix := &lineIndex{exact: map[string]int{}, plain: map[string]int{}}
	var table []string // current table path, with indices
	counts := map[string]int{}
	inString := "" // the closing delimiter of an open multi-line string
	depth := 0     // open [ or { of a multi-line value
	for n, line := range strings.Split(src, "\n") {
		lineNo := n + 1
		if inString != "" {
			if i := strings.Index(line, inString); i >= 0 {
				line = line[i+len(inString):]
				inString = ""
			} else {
				continue
			}
			depth, inString = scanValue(line, depth)
			continue
		}
		t := strings.TrimSpace(line)
		if depth > 0 {
			depth, inString = scanValue(t, depth)
			continue
		}
		if t == "" || t[0] == '#' {
			continue
		}
		if strings.HasPrefix(t, "[[") {
			parts, ok := splitKey(strings.TrimSpace(strings.TrimPrefix(headerBody(t, "]]"), "[[")))
			if !ok {
				continue
			}
			// The parents keep the current indices; the array itself gets its next index.
			parent := withIndex(table, parts[:len(parts)-1])
			last := parts[len(parts)-1]
			ck := strings.Join(append(append([]string(nil), parent...), last), ".")
			i := counts[ck]
			counts[ck]++
			table = append(parent, last+"["+strconv.Itoa(i)+"]")
			ix.add(table, lineNo)
			continue
		}
		if t[0] == '[' {
			parts, ok := splitKey(strings.TrimSpace(strings.TrimPrefix(headerBody(t, "]"), "[")))
			if !ok {
				continue
			}
			table = withIndex(table, parts)
			ix.add(table, lineNo)
			continue
		}
		eq := keyEnd(t)
		if eq < 0 {
			continue
		}
		parts, ok := splitKey(strings.TrimSpace(t[:eq]))
		if !ok {
			continue
		}
		full := append(append([]string(nil), table...), parts...)
		ix.add(full, lineNo)
		depth, inString = scanValue(t[eq+1:], 0)
	}
	return ix
}

// withIndex builds a header's path, keeping the indices of the current table where the
// header extends it (so [account.x] after [[account]] refers to the latest element).
func withIndex(cur, parts []string) []string {
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = p
		if i < len(cur) && stripIndex(cur[i]) == p {
			out[i] = cur[i]
		}
	}
	return out
}

func stripIndex(s string) string {
	if i := strings.IndexByte(s, '['); i >= 0 && strings.HasSuffix(s, "]") {
		return s[:i]
	}
	return s
}

func (ix *lineIndex) add(path []string, line int) {
	k := strings.Join(path, ".")
	if _, ok := ix.exact[k]; !ok {
		ix.exact[k] = line
	}
	plain := make([]string, len(path))
	for i, p := range path {
		plain[i] = stripIndex(p)
	}
	pk := strings.Join(plain, ".")
	if _, ok := ix.plain[pk]; !ok {
		ix.plain[pk] = line
	}
}

// has reports whether the file defines key itself (not only an enclosing table).
func (ix *lineIndex) has(key string) bool {
	if _, ok := ix.exact[key]; ok {
		return true
	}
	_, ok := ix.plain[key]
	return ok
}

// line returns the line of key, or of its closest enclosing table that is in the file, or 0.
func (ix *lineIndex) line(key string) int {
	for k := key; k != ""; {
		if l, ok := ix.exact[k]; ok {
			return l
		}
		if l, ok := ix.plain[k]; ok {
			return l
		}
		i := strings.LastIndexByte(k, '.')
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return 0
}

// headerBody cuts a table header line at its closing bracket(s), dropping a trailing comment.
func headerBody(t, closer string) string {
	if i := strings.LastIndex(t, closer); i >= 0 {
		return t[:i]
	}
	return t
}

// keyEnd returns the index of the '=' that ends the key part, skipping quoted keys.
func keyEnd(t string) int {
	for i := 0; i < len(t); i++ {
		switch t[i] {
		case '"', '\'':
			j := strings.IndexByte(t[i+1:], t[i])
			if j < 0 {
				return -1
			}
			i += j + 1
		case '=':
			return i
		}
	}
	return -1
}

// splitKey splits a dotted key into its parts, unquoting quoted parts.
func splitKey(k string) ([]string, bool) {
	var parts []string
	for k != "" {
		k = strings.TrimSpace(k)
		var part string
		if k != "" && (k[0] == '"' || k[0] == '\'') {
			j := strings.IndexByte(k[1:], k[0])
			if j < 0 {
				return nil, false
			}
			part = k[1 : j+1]
			if k[0] == '"' {
				if u, err := strconv.Unquote(k[:j+2]); err == nil {
					part = u
				}
			}
			k = strings.TrimSpace(k[j+2:])
		} else {
			j := strings.IndexByte(k, '.')
			if j < 0 {
				j = len(k)
			}
			part = strings.TrimSpace(k[:j])
			k = k[j:]
		}
		parts = append(parts, part)
		if k == "" {
			break
		}
		if k[0] != '.' {
			return nil, false
		}
		k = k[1:]
	}
	return parts, len(parts) > 0
}

// scanValue follows brackets and strings through (the rest of) a value line, returning the
// bracket depth still open and the delimiter of a multi-line string still open.
func scanValue(v string, depth int) (int, string) {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '#':
			return depth, ""
		case '[', '{':
			depth++
		case ']', '}':
			if depth > 0 {
				depth--
			}
		case '"', '\'':
			delim := string(c)
			if strings.HasPrefix(v[i:], strings.Repeat(delim, 3)) {
				delim = strings.Repeat(delim, 3)
			}
			rest := v[i+len(delim):]
			j := indexClose(rest, delim)
			if j < 0 {
				if len(delim) == 3 {
					return depth, delim
				}
				return depth, ""
			}
			i += len(delim) + j + len(delim) - 1
		}
	}
	return depth, ""
}

// indexClose finds the closing delimiter, skipping backslash escapes in basic strings.
func indexClose(s, delim string) int {
	for i := 0; i < len(s); i++ {
		if delim[0] == '"' && s[i] == '\\' {
			i++
			continue
		}
		if strings.HasPrefix(s[i:], delim) {
			return i
		}
	}
	return -1
}
