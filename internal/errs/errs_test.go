package errs

import (
	"errors"
	"fmt"
	"testing"
)

func TestText(t *testing.T) {
	cause := errors.New("the PIN is wrong")
	for _, c := range []struct {
		err  *Error
		want string
	}{
		{New("the plan has no steps", ""), "the plan has no steps"},
		{New("output folder out already exists", "resume it"), "output folder out already exists\nhint: resume it"},
		{Unchanged("token is full", "free a slot"), "token is full; nothing was changed\nhint: free a slot"},
		{&Error{What: "the PIN is wrong (attempt 1 of 3)", Changed: "nothing was sent", Err: cause}, "the PIN is wrong (attempt 1 of 3); nothing was sent"},
	} {
		if got := c.err.Error(); got != c.want {
			t.Errorf("Error() = %q, want %q", got, c.want)
		}
	}
}

func TestUnwrap(t *testing.T) {
	cause := errors.New("cause")
	err := fmt.Errorf("outer: %w", &Error{What: "what", Err: cause})
	var e *Error
	if !errors.As(err, &e) || e.What != "what" {
		t.Fatalf("errors.As does not find the Error in %v", err)
	}
	if !errors.Is(err, cause) {
		t.Fatal("errors.Is does not reach the cause")
	}
}

func TestParts(t *testing.T) {
	err := fmt.Errorf("cannot resume: %w", Unchanged("the transcript does not verify", "run keyceremony verify"))
	what, hint, changed, ok := Parts(err)
	if !ok || what != "cannot resume: the transcript does not verify" || hint != "run keyceremony verify" || changed != Nothing {
		t.Fatalf("Parts = %q, %q, %q, %v", what, hint, changed, ok)
	}
	what, hint, changed, ok = Parts(errors.New("plain\nhint: not read"))
	if ok || what != "plain\nhint: not read" || hint != "" || changed != "" {
		t.Fatalf("Parts of a plain error = %q, %q, %q, %v", what, hint, changed, ok)
	}
}
