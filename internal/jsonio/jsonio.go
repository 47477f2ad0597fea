// Package jsonio writes JSON the way every file and report of dnsmigrate
// is written: indented by two spaces, one value per document.
package jsonio

import (
	"encoding/json"
	"io"
)

// Write writes v to w as indented JSON, ending in a newline.
func Write(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Marshal is v as indented JSON, without the final newline.
func Marshal(v any) ([]byte, error) { return json.MarshalIndent(v, "", "  ") }
