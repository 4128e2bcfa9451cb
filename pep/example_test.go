package pep_test

import (
	"errors"
	"fmt"

	"github.com/otrchat/otrchat/config"
	"github.com/otrchat/otrchat/pep"
)

func ExampleParseList() {
	l, err := pep.ParseList([]byte(`<devices xmlns='urn:xmpp:otr:1'>
		<device id='1234abcd' label='laptop'/>
		<device id='c1bb7b7a'/>
	</devices>`))
	fmt.Println(len(l), l.Contains(0xc1bb7b7a), l[0].Label, err)
	b, _ := l.Marshal()
	fmt.Println(string(b))

	nine := make(pep.List, 9)
	for i := range nine {
		nine[i].Tag = uint32(0x1000 + i)
	}
	_, err = nine.Marshal()
	fmt.Println(errors.Is(err, pep.ErrTooManyDevices))
	// Output:
	// 2 true laptop <nil>
	// <devices xmlns="urn:xmpp:otr:1"><device id="1234abcd" label="laptop"></device><device id="c1bb7b7a"></device></devices>
	// true
}

// The configuration's otr.device_list_access values are the access models
// pep publishes with, so the session layer can pass them through.
func ExampleOptions_accessModel() {
	fmt.Println(string(config.DeviceListOpen) == pep.AccessOpen, string(config.DeviceListPresence) == pep.AccessPresence)
	// Output: true true
}
