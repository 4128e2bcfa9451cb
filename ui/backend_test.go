package ui

import "github.com/otrchat/otrchat/session"

// *session.Manager is the Backend otrchat runs with.
var _ Backend = (*session.Manager)(nil)
