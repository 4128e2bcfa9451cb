package config

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
)

var durationType = reflect.TypeOf(Duration{})

// typeCheck compares the generically decoded document with the Config struct before the real
// decoding. The TOML library reports a wrongly typed value with the line of the key's last
// occurrence, which is wrong inside arrays of tables ([[account]]); this check knows the
// element index, so the line index finds the right line. Unknown keys are left to
// MetaData.Undecoded.
func typeCheck(v any, t reflect.Type, path string) (key, msg string) {
	want := ""
	switch {
	case t == durationType:
		if _, ok := v.(string); !ok {
			want = "a duration string such as \"10s\""
		}
	case t.Kind() == reflect.Pointer:
		return typeCheck(v, t.Elem(), path)
	case t.Kind() == reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			want = "a table"
			break
		}
		for i := range t.NumField() {
			f := t.Field(i)
			tag := strings.Split(f.Tag.Get("toml"), ",")[0]
			if fv, present := m[tag]; present && tag != "" {
				if k, msg := typeCheck(fv, f.Type, join(path, tag)); msg != "" {
					return k, msg
				}
			}
		}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		items, ok := v.([]map[string]any)
		if !ok {
			want = fmt.Sprintf("an array of tables ([[%s]])", path)
			break
		}
		for i, it := range items {
			if k, msg := typeCheck(it, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); msg != "" {
				return k, msg
			}
		}
	case t.Kind() == reflect.Slice:
		items, ok := v.([]any)
		if !ok {
			want = "an array"
			break
		}
		for i, it := range items {
			if k, msg := typeCheck(it, t.Elem(), path); msg != "" {
				return k, fmt.Sprintf("element %d: %s", i+1, msg)
			}
		}
	case t.Kind() == reflect.String:
		if _, ok := v.(string); !ok {
			want = "a string"
		}
	case t.Kind() == reflect.Int:
		if _, ok := v.(int64); !ok {
			want = "an integer"
		}
	case t.Kind() == reflect.Bool:
		if _, ok := v.(bool); !ok {
			want = "true or false"
		}
	}
	if want != "" {
		return path, fmt.Sprintf("want %s, have %s", want, tomlTypeName(v))
	}
	return "", ""
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func tomlTypeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case map[string]any:
		return "a table"
	case []map[string]any:
		return "an array of tables"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("a %T", v)
}

// unknownKeys lists the keys of the generically decoded document that the Config struct does
// not have, as dotted paths with the index of each element of an array of tables
// ("account[1].portt"), in document order within each table (sorted by name, since maps have
// no order; callers sort by line). An unknown table is reported once, not each of its keys.
func unknownKeys(v any, t reflect.Type, path string) []string {
	if t == durationType {
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		return unknownKeys(v, t.Elem(), path)
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		fields := map[string]reflect.Type{}
		for i := range t.NumField() {
			f := t.Field(i)
			if tag := strings.Split(f.Tag.Get("toml"), ",")[0]; tag != "" {
				fields[tag] = f.Type
			}
		}
		var out []string
		for _, k := range slices.Sorted(maps.Keys(m)) {
			ft, known := fields[k]
			if !known {
				out = append(out, join(path, k))
				continue
			}
			out = append(out, unknownKeys(m[k], ft, join(path, k))...)
		}
		return out
	case reflect.Slice:
		if t.Elem().Kind() != reflect.Struct {
			return nil
		}
		items, ok := v.([]map[string]any)
		if !ok {
			return nil
		}
		var out []string
		for i, it := range items {
			out = append(out, unknownKeys(it, t.Elem(), fmt.Sprintf("%s[%d]", path, i))...)
		}
		return out
	}
	return nil
}
