package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	if installCrashHooks() || os.Getenv(cliEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	testscript.Main(m, map[string]func(){
		"keyceremony": func() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
		"tapup":       tapUp,
	})
}

// TestScripts runs the CLI scripts in testdata. Each script gets a fresh SoftHSM2 token labelled
// "test" (user PIN 1234) in its own work folder, and the repository's testdata as $TESTDATA.
func TestScripts(t *testing.T) {
	if _, err := exec.LookPath("softhsm2-util"); err != nil {
		t.Fatal("softhsm2-util is missing: run scripts/setup")
	}
	testdata, err := filepath.Abs("../../testdata")
	if err != nil {
		t.Fatal(err)
	}
	scripts, err := filepath.Abs("../../scripts")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata",
		Cmds: map[string]func(*testscript.TestScript, bool, []string){
			"fixtures": cmdFixtures, "agekey": cmdAgeKey, "subst": cmdSubst, "cpglob": cmdCpGlob,
		},
		Setup: func(env *testscript.Env) error {
			conf := filepath.Join(env.WorkDir, "softhsm2.conf")
			tokens := filepath.Join(env.WorkDir, "tokens")
			if err := os.Mkdir(tokens, 0o700); err != nil {
				return err
			}
			if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"), 0o600); err != nil {
				return err
			}
			env.Setenv("SOFTHSM2_CONF", conf)
			env.Setenv("TESTDATA", testdata)
			env.Setenv("SCRIPTS", scripts)
			env.Setenv("PIN", "1234")
			env.Setenv("SO_PIN", "12345678")
			cmd := exec.Command("softhsm2-util", "--init-token", "--free", "--label", "test", "--so-pin", "12345678", "--pin", "1234")
			cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+conf)
			if out, err := cmd.CombinedOutput(); err != nil {
				env.T().Fatal("softhsm2-util: " + string(out))
			}
			return nil
		},
	})
}
