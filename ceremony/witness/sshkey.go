package witness

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// SSHSigner returns a signer for the SSH key in path: a private key file (asking for its
// passphrase if it has one), or, for a key the file cannot give (a FIDO2 security key's stub
// or a public key), the key of the same public half in ssh-agent.
func SSHSigner(path string, passphrase func() ([]byte, error)) (ssh.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the SSH key %s: %v", path, err)
	}
	s, err := ssh.ParsePrivateKey(data)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		p, perr := passphrase()
		if perr != nil {
			return nil, perr
		}
		s, err = ssh.ParsePrivateKeyWithPassphrase(data, p)
		clear(p)
		if err != nil {
			return nil, fmt.Errorf("the passphrase does not open the SSH key %s\nhint: type it again; nothing was cosigned", path)
		}
	}
	if err == nil {
		return s, nil
	}
	// A security key's private key file cannot sign without the device: ssh-agent can.
	pub, _, _, _, perr := ssh.ParseAuthorizedKey(data)
	if perr != nil {
		pubData, rerr := os.ReadFile(path + ".pub")
		if rerr != nil {
			return nil, fmt.Errorf("the SSH key %s cannot sign here (%v) and %s.pub cannot be read\nhint: give a private key file, or the public key of a key loaded in ssh-agent", path, err, path)
		}
		if pub, _, _, _, perr = ssh.ParseAuthorizedKey(pubData); perr != nil {
			return nil, fmt.Errorf("%s.pub is not an SSH public key", path)
		}
	}
	sock := os.Getenv("SSH_AUTH_SOCK")
	if sock == "" {
		return nil, fmt.Errorf("the SSH key %s signs only through ssh-agent, and SSH_AUTH_SOCK is not set\nhint: start ssh-agent and run ssh-add %s", path, strings.TrimSuffix(path, ".pub"))
	}
	conn, err := net.Dial("unix", sock) // open until the process ends: the signer uses it
	if err != nil {
		return nil, fmt.Errorf("cannot reach ssh-agent at %s: %v", sock, err)
	}
	signers, err := agent.NewClient(conn).Signers()
	if err != nil {
		return nil, fmt.Errorf("ssh-agent did not list its keys: %v", err)
	}
	for _, s := range signers {
		if bytes.Equal(s.PublicKey().Marshal(), pub.Marshal()) {
			return s, nil
		}
	}
	return nil, fmt.Errorf("ssh-agent does not hold the key %s (%s)\nhint: run ssh-add %s", path, ssh.FingerprintSHA256(pub), strings.TrimSuffix(path, ".pub"))
}
