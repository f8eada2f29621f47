package apply

import (
	"testing"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"github.com/stretchr/testify/assert"
)

// The binding keeps one byte per entry type and gives back the type's name.
func TestNamesKinds(t *testing.T) {
	assert.Equal(t, toc.TypeDir, kindDir.String())
	for _, typ := range []string{toc.TypeReg, toc.TypeDir, toc.TypeSymlink, toc.TypeHardlink, toc.TypeChar, toc.TypeBlock, toc.TypeFifo} {
		assert.Equal(t, typ, kindOf(typ).String())
	}
	assert.Equal(t, "other", kindOf("weird").String())
}
