//go:build cgo

package ceremony

import (
	"github.com/keyceremony/keyceremony/hsm"
	"github.com/keyceremony/keyceremony/internal/hsmspec"
	"github.com/keyceremony/keyceremony/wrap"
)

// CheckToken opens the plan's module and looks for its token without logging in, so `plan check`
// can say whether the ceremony's token is reachable from this machine, and probes what it can do.
func (p *Plan) CheckToken() (hsmspec.TokenInfo, hsmspec.Capabilities, error) {
	mod, err := hsm.Open(p.Path(p.Token.Module))
	if err != nil {
		return hsmspec.TokenInfo{}, hsmspec.Capabilities{}, err
	}
	defer mod.Close()
	s, err := mod.OpenSession(p.Token.Token)
	if err != nil {
		return hsmspec.TokenInfo{}, hsmspec.Capabilities{}, err
	}
	defer s.Close()
	caps := s.Capabilities()
	// The probe is for the first key pair with targets; Preflight applies it to keys of its type.
	for _, v := range p.Views() {
		if (v.spec.Type == hsmspec.RSA || v.spec.Type == hsmspec.EC) && len(v.Targets) > 0 && p.Kind != KindReshare {
			if fit, err := s.ProbePKCS8(v.spec); err == nil {
				caps.PKCS8 = &fit
			}
			break
		}
	}
	return s.Token(), caps, nil
}

// preflight runs Preflight for this run once the token is open, before anything is made in it.
// On resume, targets already wrapped are skipped, and those checked use their pinned copies; an
// abort makes nothing and needs none of it.
func (e *engine) preflight() error {
	if e.Abort {
		return nil
	}
	terminal := e.ui.Terminal()
	w := World{Now: e.Now(), Terminal: &terminal, Done: func(step string) bool { return e.done[step] }}
	caps := e.sess.Capabilities()
	w.Capabilities = &caps
	if e.Resume {
		w.Params = func(t wrap.Target) (*wrap.Params, error) {
			if !e.done[e.plan.checkStep(t)] {
				return wrap.Load(t, e.plan.dir)
			}
			files, err := e.pinnedFiles(e.plan.checkStep(t), nil)
			if err != nil {
				return nil, err
			}
			return wrap.LoadPinned(t, files)
		}
	}
	_, err := e.plan.Preflight(w)
	return err
}
