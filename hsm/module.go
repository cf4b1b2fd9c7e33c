package hsm

import (
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/miekg/pkcs11"

	"github.com/keyceremony/keyceremony/internal/hsmspec"
)

// Module is a loaded and initialised PKCS#11 library.
type Module struct {
	path   string
	shared *sharedCtx
	closed bool
}

// A library may be C_Initialize'd only once per process, and C_Finalize
// ends it for every user, so Modules opened from the same file share one
// context and the last Close finalises it.
type sharedCtx struct {
	ctx  *pkcs11.Ctx
	refs int
}

var (
	modulesMu sync.Mutex
	modules   = map[string]*sharedCtx{}
)

const moduleHint = "install softhsm2 (scripts/setup) or give the path of the vendor's PKCS#11 module"

// Open loads the PKCS#11 library at path and initialises it.
//
// pkcs11.New returns nil without saying why, so the file is checked first:
// a missing file, a directory, something that is not an ELF shared library
// or one built for another architecture each get their own sentence.
func Open(path string) (*Module, error) {
	if err := checkModuleFile(path); err != nil {
		return nil, err
	}
	key, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, moduleError(path, "cannot be resolved", moduleHint)
	}
	modulesMu.Lock()
	defer modulesMu.Unlock()
	if sc, ok := modules[key]; ok {
		sc.refs++
		return &Module{path: path, shared: sc}, nil
	}
	ctx := pkcs11.New(path)
	if ctx == nil {
		return nil, moduleError(path, "cannot be loaded",
			"check that the libraries it needs are installed: ldd "+path)
	}
	if err := ctx.Initialize(); err != nil {
		ctx.Destroy()
		e := &Error{Code: codeOf(err), Kind: ErrModule,
			Msg:  fmt.Sprintf("PKCS#11 module %s failed to initialise", path),
			Hint: "check the module's configuration; for SoftHSM2, check that SOFTHSM2_CONF names a readable file whose directories.tokendir exists"}
		if e.Code == 0 {
			e.Msg += ": " + err.Error()
		}
		return nil, e
	}
	sc := &sharedCtx{ctx: ctx, refs: 1}
	modules[key] = sc
	return &Module{path: path, shared: sc}, nil
}

func moduleError(path, what, hint string) error {
	return &Error{Kind: ErrModule, Msg: fmt.Sprintf("PKCS#11 module %s %s", path, what), Hint: hint}
}

// elfMachines maps GOARCH to the ELF machine a loadable module must have.
var elfMachines = map[string]elf.Machine{
	"amd64": elf.EM_X86_64, "386": elf.EM_386, "arm64": elf.EM_AARCH64, "arm": elf.EM_ARM,
	"riscv64": elf.EM_RISCV, "ppc64le": elf.EM_PPC64, "s390x": elf.EM_S390, "loong64": elf.EM_LOONGARCH,
}

func checkModuleFile(path string) error {
	if path == "" {
		return moduleError("\"\"", "is not a path", moduleHint)
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return moduleError(path, "does not exist", moduleHint)
	case err != nil:
		return moduleError(path, "cannot be read: "+err.Error(), "check the path and its permissions")
	case !fi.Mode().IsRegular():
		return moduleError(path, "is not a regular file", moduleHint)
	}
	// Only ELF platforms are checked; elsewhere pkcs11.New has the last word.
	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		return nil
	}
	f, err := elf.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return moduleError(path, "cannot be read: permission denied", "check the file's permissions")
		}
		return moduleError(path, "is not a shared library (not an ELF file)", moduleHint)
	}
	defer f.Close()
	if f.Type != elf.ET_DYN {
		return moduleError(path, "is not a shared library (ELF type "+strings.TrimPrefix(f.Type.String(), "ET_")+")", moduleHint)
	}
	if want, ok := elfMachines[runtime.GOARCH]; ok && f.Machine != want {
		return moduleError(path, fmt.Sprintf("is built for %s, but this program runs on %s",
			strings.TrimPrefix(f.Machine.String(), "EM_"), runtime.GOARCH),
			"install the module built for "+runtime.GOARCH)
	}
	return nil
}

// Path is the file the module was opened from.
func (m *Module) Path() string { return m.path }

// Close finalises the library when no other Module from the same file is
// open. Closing twice is harmless.
func (m *Module) Close() error {
	modulesMu.Lock()
	defer modulesMu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	m.shared.refs--
	if m.shared.refs > 0 {
		return nil
	}
	for k, sc := range modules {
		if sc == m.shared {
			delete(modules, k)
		}
	}
	err := m.shared.ctx.Finalize()
	m.shared.ctx.Destroy()
	if err != nil {
		return fail(err, "finalise PKCS#11 module "+m.path)
	}
	return nil
}

// Tokens lists the initialised tokens of the module. Slots whose token has
// not been initialised have no label and cannot be logged in to.
func (m *Module) Tokens() ([]hsmspec.TokenInfo, error) {
	ctx := m.shared.ctx
	slots, err := ctx.GetSlotList(true)
	if err != nil {
		return nil, fail(err, "list the slots of "+m.path)
	}
	var ts []hsmspec.TokenInfo
	for _, id := range slots {
		ti, err := ctx.GetTokenInfo(id)
		if err != nil {
			return nil, fail(err, fmt.Sprintf("read the token in slot %d", id))
		}
		if ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
			continue
		}
		ts = append(ts, hsmspec.TokenInfo{
			SlotID:       id,
			Label:        ti.Label,
			Manufacturer: ti.ManufacturerID,
			Model:        ti.Model,
			Serial:       ti.SerialNumber,
			Firmware:     fmt.Sprintf("%d.%d", ti.FirmwareVersion.Major, ti.FirmwareVersion.Minor),
		})
	}
	return ts, nil
}

// OpenSession opens a read-write session on the token named by token: its
// label, or an RFC 7512 "pkcs11:" URI. Exactly one token must match.
func (m *Module) OpenSession(token string) (*Session, error) {
	match := func(t hsmspec.TokenInfo) bool { return t.Label == token }
	what := fmt.Sprintf("no token labelled %q", token)
	if strings.HasPrefix(token, "pkcs11:") {
		u, err := parseTokenURI(token)
		if err != nil {
			return nil, err
		}
		match = func(t hsmspec.TokenInfo) bool { return u.matches(t, m.path) }
		what = "no token matches " + token
	}
	tokens, err := m.Tokens()
	if err != nil {
		return nil, err
	}
	var found []hsmspec.TokenInfo
	for _, t := range tokens {
		if match(t) {
			found = append(found, t)
		}
	}
	switch len(found) {
	case 0:
		hint := "give one of the labels above, or a pkcs11: URI (RFC 7512)"
		if len(tokens) == 0 {
			hint = "initialise a token first (softhsm2-util --init-token, or the vendor's tool); for SoftHSM2, check SOFTHSM2_CONF"
		}
		return nil, &Error{Kind: ErrTokenNotFound, Msg: what + "; " + describeTokens(tokens), Hint: hint}
	case 1:
	default:
		return nil, &Error{Kind: ErrTokenNotFound,
			Msg:  fmt.Sprintf("%d tokens match %q; %s", len(found), token, describeTokens(found)),
			Hint: "select one with a pkcs11: URI that includes its serial"}
	}
	t := found[0]
	sh, err := m.shared.ctx.OpenSession(t.SlotID, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return nil, fail(err, fmt.Sprintf("open a session on token %q", t.Label))
	}
	return &Session{m: m, ctx: m.shared.ctx, h: sh, token: t}, nil
}

func describeTokens(ts []hsmspec.TokenInfo) string {
	if len(ts) == 0 {
		return "the module has no initialised token"
	}
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = fmt.Sprintf("%q (serial %s)", t.Label, t.Serial)
	}
	return "tokens present: " + strings.Join(parts, ", ")
}
