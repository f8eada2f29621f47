package differ

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"sync"
	"testing"

	dcontext "github.com/chunkdiff/chunkdiff/differ/context"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/require"
)

const (
	annTOCDigest   = "io.github.containers.zstd-chunked.manifest-checksum"
	annTOCPosition = "io.github.containers.zstd-chunked.manifest-position"
	annTarSplitPos = "io.github.containers.zstd-chunked.tarsplit-position"
	annEStargzTOC  = "containerd.io/snapshot/stargz/toc.digest"
)

// zstdLayer is a small upstream-produced zstd:chunked layer of the rich tree.
// Producing it takes seconds under -race, so it is built once and shared
// (tests only read it; layer producers below copy before changing anything).
func zstdLayer(t *testing.T) testutil.Layer {
	richMu.Lock()
	defer richMu.Unlock()
	if richZstd == nil {
		l := testutil.ZstdChunked(t, richTar(t))
		richZstd = &l
	}
	l := *richZstd
	l.Annotations = maps.Clone(l.Annotations)
	return l
}

var (
	richMu     sync.Mutex
	richZstd   *testutil.Layer
	richTarBuf []byte
)

// richTar is the uncompressed tar of the rich tree, built once.
func richTar(t *testing.T) []byte {
	if richTarBuf == nil {
		richTarBuf = testutil.TarBytes(t, testutil.RichTree(1))
	}
	return richTarBuf
}

// editAnnotations returns a layer producer with changed annotations
// ("" deletes a key).
func editAnnotations(kv ...string) func(t *testing.T) testutil.Layer {
	return func(t *testing.T) testutil.Layer {
		l := zstdLayer(t)
		ann := map[string]string{}
		for k, v := range l.Annotations {
			ann[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(ann, kv[i])
			} else {
				ann[kv[i]] = kv[i+1]
			}
		}
		l.Annotations = ann
		return l
	}
}

// hugeTOC announces a TOC larger than the limit, at a position that is valid
// otherwise, so only the limit can decide.
func hugeTOC(t *testing.T) testutil.Layer {
	return announceTOCSize(t, dcontext.DefaultMaxTOCSize+1)
}

// announceTOCSize is the rich layer with its TOC annotated as inflating to
// ulen bytes, all else as written.
func announceTOCSize(t *testing.T, ulen uint64) testutil.Layer {
	l := zstdLayer(t)
	var off, length, was, typ uint64
	_, err := fmt.Sscanf(l.Annotations[annTOCPosition], "%d:%d:%d:%d", &off, &length, &was, &typ)
	require.NoError(t, err)
	return editAnnotations(annTOCPosition, fmt.Sprintf("%d:%d:%d:%d", off, length, ulen, typ))(t)
}

// tooLargeTOC announces a TOC over the disk bound of policy stream.
func tooLargeTOC(t *testing.T) testutil.Layer {
	return announceTOCSize(t, dcontext.DefaultMaxTarSplitSize+1)
}

// withoutTarSplit rewrites the TOC without its tarSplitDigest: a layer whose
// TOC carries no tar-split (old writers, rule "no-tar-split").
func withoutTarSplit(t *testing.T) testutil.Layer {
	return rewriteTOC(t, zstdLayer(t), false, func(doc map[string]json.RawMessage) {
		require.Contains(t, doc, "tarSplitDigest")
		delete(doc, "tarSplitDigest")
	})
}

// rewriteTOC re-encodes l's TOC after edit and appends it (and, with
// keepTarSplit, a copy of the tar-split frame after it) before the footer,
// with annotations pointing at the new frames. The old frames stay behind
// as unreferenced skippable frames, which readers ignore.
func rewriteTOC(t *testing.T, l testutil.Layer, keepTarSplit bool, edit func(doc map[string]json.RawMessage)) testutil.Layer {
	var off, length, ulen, typ uint64
	_, err := fmt.Sscanf(l.Annotations[annTOCPosition], "%d:%d:%d:%d", &off, &length, &ulen, &typ)
	require.NoError(t, err)
	dec, err := zstd.NewReader(nil)
	require.NoError(t, err)
	defer dec.Close()
	raw, err := dec.DecodeAll(l.Blob[off:off+length], nil)
	require.NoError(t, err)
	var doc map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &doc))
	edit(doc)
	plain, err := json.Marshal(doc)
	require.NoError(t, err)
	enc, err := zstd.NewWriter(nil)
	require.NoError(t, err)
	compressed := enc.EncodeAll(plain, nil)

	footerAt := len(l.Blob) - 72
	blob := append([]byte(nil), l.Blob[:footerAt]...)
	newOff := len(blob) + 8
	blob = appendSkippable(t, blob, compressed)
	ann := map[string]string{
		annTOCDigest:   digest.FromBytes(compressed).String(),
		annTOCPosition: fmt.Sprintf("%d:%d:%d:1", newOff, len(compressed), len(plain)),
	}
	if keepTarSplit {
		var tsOff, tsLen, tsULen uint64
		_, err := fmt.Sscanf(l.Annotations[annTarSplitPos], "%d:%d:%d", &tsOff, &tsLen, &tsULen)
		require.NoError(t, err)
		newTS := len(blob) + 8
		blob = appendSkippable(t, blob, l.Blob[tsOff:tsOff+tsLen])
		ann[annTarSplitPos] = fmt.Sprintf("%d:%d:%d", newTS, tsLen, tsULen)
	}
	blob = append(blob, l.Blob[footerAt:]...)
	l.Blob = blob
	l.Digest = digest.FromBytes(blob)
	l.Annotations = ann
	return l
}

func appendSkippable(t *testing.T, blob, data []byte) []byte {
	var frame bytes.Buffer
	frame.Write([]byte{0x50, 0x2A, 0x4D, 0x18})
	require.NoError(t, binary.Write(&frame, binary.LittleEndian, uint32(len(data))))
	frame.Write(data)
	return append(blob, frame.Bytes()...)
}

func estargzLayer(t *testing.T) testutil.Layer {
	richMu.Lock()
	defer richMu.Unlock()
	return testutil.EStargz(t, richTar(t), 64<<10, nil)
}

func gzipLayer(t *testing.T) testutil.Layer {
	richMu.Lock()
	defer richMu.Unlock()
	return testutil.Gzip(t, richTar(t))
}
