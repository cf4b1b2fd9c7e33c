package witness

import (
	"encoding/base64"
	"encoding/binary"
)

var (
	base64Std = base64.StdEncoding
	binaryBE  = binary.BigEndian
)
