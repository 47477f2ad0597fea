package jsonio

import (
	"strings"
	"testing"
)

func TestWriteAndMarshal(t *testing.T) {
	v := map[string]any{"a": []int{1}}
	var b strings.Builder
	if err := Write(&b, v); err != nil {
		t.Fatal(err)
	}
	m, err := Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"a\": [\n    1\n  ]\n}"
	if b.String() != want+"\n" || string(m) != want {
		t.Errorf("Write %q, Marshal %q; want %q", b.String(), m, want)
	}
}
