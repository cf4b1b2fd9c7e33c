package backup

// Line checks: a systematic Reed-Solomon code over GF(32) (primitive polynomial x^5+x^2+1) with
// TypedCheckChars check symbols and generator (x+a)(x+a^2)(x+a^3). Its minimum distance is 4, so
// any one, two or three wrong characters in a line (a swap of two is two) are always caught, and
// a random line passes with probability 2^-15. lineDomain is fed in first, so a line of zeros is
// not a codeword.

var gfExp, gfLog = func() (exp [62]byte, log [32]byte) {
	x := byte(1)
	for i := 0; i < 31; i++ {
		exp[i], exp[i+31] = x, x
		log[x] = byte(i)
		x <<= 1
		if x&32 != 0 {
			x ^= 0x25 // x^5 + x^2 + 1
		}
	}
	return exp, log
}()

func gfMul(a, b byte) byte {
	if a == 0 || b == 0 {
		return 0
	}
	return gfExp[int(gfLog[a])+int(gfLog[b])]
}

// rsGen holds the coefficients of the monic generator below x^3, highest degree first.
var rsGen = func() [TypedCheckChars]byte {
	g := []byte{1} // highest degree first
	for i := 1; i <= TypedCheckChars; i++ {
		next := make([]byte, len(g)+1)
		for j, c := range g {
			next[j] ^= c
			next[j+1] ^= gfMul(c, gfExp[i])
		}
		g = next
	}
	var out [TypedCheckChars]byte
	copy(out[:], g[1:])
	return out
}()

// rsRemainder returns (lineDomain || data)(x) * x^3 mod g(x): the check symbols of data.
func rsRemainder(data []byte) [TypedCheckChars]byte {
	var rem [TypedCheckChars]byte
	feed := func(c byte) {
		fb := c ^ rem[0]
		copy(rem[:], rem[1:])
		rem[TypedCheckChars-1] = 0
		for i := range rem {
			rem[i] ^= gfMul(fb, rsGen[i])
		}
	}
	for _, c := range []byte(lineDomain) {
		feed(byte(symbolValue[c]))
	}
	for _, c := range data {
		feed(c)
	}
	return rem
}

// appendLineCheck appends the check symbols of line (symbol values) to it.
func appendLineCheck(line []byte) []byte {
	rem := rsRemainder(line)
	return append(line, rem[:]...)
}

// lineCheckOK reports whether a line (symbol values, check symbols last) is a codeword.
func lineCheckOK(line []byte) bool {
	if len(line) <= TypedCheckChars {
		return false
	}
	n := len(line) - TypedCheckChars
	return rsRemainder(line[:n]) == [TypedCheckChars]byte(line[n:])
}
