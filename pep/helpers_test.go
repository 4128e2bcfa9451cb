package pep_test

import (
	"encoding/xml"
	"strings"
)

func xmlReader(s string) xml.TokenReader { return xml.NewDecoder(strings.NewReader(s)) }
