package attest

//go:generate sh -c "cd testdata && go run gen.go"
