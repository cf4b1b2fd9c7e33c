package wrap

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
)

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func pkcs1(k *rsa.PublicKey) []byte { return x509.MarshalPKCS1PublicKey(k) }
