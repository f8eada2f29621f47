package differ

import (
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/chunkdiff/chunkdiff/differ/states"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	storage "go.podman.io/storage"
	graphdriver "go.podman.io/storage/drivers"
	"go.podman.io/storage/pkg/chunked"
)

// outcome is what a rule of the decision matrix (docs/BEHAVIOUR.md) must produce.
type outcome int

const (
	wantFallback  outcome = iota // F: matches the fallback type, cannot convert
	wantFallbackC                // F+C: fallback that convert_images could overcome
	wantHardError                // E: an error that does not match the fallback type
	wantConvert                  // →conv: a differ in convert-pending
	wantLoaded                   // a differ in metadata-loaded
)

type matrixRow struct {
	name      string
	pull      map[string]string
	layer     func(t *testing.T) testutil.Layer
	srcOpts   []testutil.SourceOption
	store     func(tb testing.TB, pull map[string]string) storage.Store
	want      outcome
	code      states.Code // reason code for fallbacks/conversions
	errSubstr string      // for hard errors: what the message must name
	noRequest bool        // the decision is made without any GetBlobAt
	requests  int         // for wantLoaded: GetBlobAt calls expected (default 1)
}

var (
	partial        = map[string]string{"enable_partial_images": "true"}
	partialConvert = map[string]string{"enable_partial_images": "true", "convert_images": "true"}
	partialInsec   = map[string]string{"enable_partial_images": "true", "insecure_allow_unpredictable_image_contents": "true"}
	// policyUpstream: the metadata size rule of upstream (150 MiB, then
	// fallback), which the default policy "stream" does not apply.
	policyUpstream = []string{"chunkdiff_metadata_policy", "upstream"}
)

func withOpts(base map[string]string, kv ...string) map[string]string {
	out := maps.Clone(base)
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// estargzEdit returns a producer of the rich eStargz layer with its blob
// changed by edit (digest recomputed, annotations kept).
func estargzEdit(edit func([]byte) []byte) func(t *testing.T) testutil.Layer {
	return func(t *testing.T) testutil.Layer {
		l := estargzLayer(t)
		l.Blob = edit(append([]byte(nil), l.Blob...))
		l.Digest = digest.FromBytes(l.Blob)
		return l
	}
}

// hugeEStargz is a blob whose footer puts the TOC at offset 0 of a 151 MiB
// blob: the TOC range is over the 150 MiB limit, decided from the footer.
func hugeEStargz(t *testing.T) testutil.Layer {
	l := estargzLayer(t)
	footer := l.Blob[len(l.Blob)-51:]
	blob := make([]byte, 151<<20+51)
	copy(blob[len(blob)-51:], footer)
	copy(blob[len(blob)-51+16:], "0000000000000000")
	l.Blob = blob
	l.Digest = digest.FromBytes(blob)
	return l
}

func estargzWrongDigest(t *testing.T) testutil.Layer {
	l := estargzLayer(t)
	l.Annotations = map[string]string{annEStargzTOC: digest.FromString("not the TOC").String()}
	return l
}

// brokenDriverStore is a real store whose GraphDriver fails (rule "driver-unavailable").
type brokenDriverStore struct{ storage.Store }

func (brokenDriverStore) GraphDriver() (graphdriver.Driver, error) {
	return nil, errors.New("graph driver unavailable (test)")
}

func TestDecisionMatrix(t *testing.T) {
	overlay := testutil.NewOverlayStore
	rows := []matrixRow{
		{name: "1 partial images disabled", pull: map[string]string{}, layer: zstdLayer, want: wantFallback, code: states.CodePartialDisabled, noRequest: true},
		{name: "1 partial images disabled with convert_images", pull: map[string]string{"convert_images": "true"}, layer: zstdLayer, want: wantFallback, code: states.CodePartialDisabled, noRequest: true},
		{name: "1 wins over a bad annotation", pull: map[string]string{}, layer: editAnnotations(annTOCDigest, "garbage"), want: wantFallback, code: states.CodePartialDisabled, noRequest: true},
		{name: "2 graph driver error", pull: partial, layer: zstdLayer, want: wantHardError, errSubstr: "graph driver unavailable", noRequest: true,
			store: func(tb testing.TB, p map[string]string) storage.Store { return brokenDriverStore{overlay(tb, p)} }},
		{name: "3 driver without differ", pull: partial, layer: zstdLayer, store: testutil.NewVFSStore, want: wantFallback, code: states.CodeNoDifferDriver, noRequest: true},
		{name: "3 driver without differ with convert_images", pull: partialConvert, layer: zstdLayer, store: testutil.NewVFSStore, want: wantHardError, errSubstr: "convert_images requires", noRequest: true},
		{name: "4 both TOC annotations", pull: partial, layer: editAnnotations(annEStargzTOC, string(digest.FromString("x"))), want: wantHardError, errSubstr: "both", noRequest: true},
		{name: "5 TOC digest does not parse", pull: partial, layer: editAnnotations(annTOCDigest, "sha256:xyz"), want: wantHardError, errSubstr: "not a valid digest", noRequest: true},
		{name: "6 manifest position missing", pull: partial, layer: editAnnotations(annTOCPosition, ""), want: wantHardError, errSubstr: annTOCPosition, noRequest: true},
		{name: "6 manifest position unparsable", pull: partial, layer: editAnnotations(annTOCPosition, "1:2:x:1"), want: wantHardError, errSubstr: annTOCPosition, noRequest: true},
		{name: "6 manifest type not 1", pull: partial, layer: editAnnotations(annTOCPosition, "1:2:3:2"), want: wantHardError, errSubstr: annTOCPosition, noRequest: true},
		{name: "6 tar-split position unparsable", pull: partial, layer: editAnnotations(annTarSplitPos, "1:x"), want: wantHardError, errSubstr: annTarSplitPos, noRequest: true},
		{name: "7 TOC too large", pull: withOpts(partial, policyUpstream...), layer: hugeTOC, want: wantFallback, code: states.CodeMetadataTooLarge, noRequest: true},
		{name: "7 TOC too large with convert_images", pull: withOpts(partialConvert, policyUpstream...), layer: hugeTOC, want: wantHardError, errSubstr: "neither a partial pull nor convert_images is possible", noRequest: true},
		// Policy stream fetches such a TOC, and finds that it inflates to
		// less than its annotation claims.
		{name: "7 TOC over upstream's limit, policy stream", pull: partial, layer: hugeTOC, want: wantHardError, errSubstr: "TOC"},
		{name: "7 TOC over the disk bound, policy stream", pull: partial, layer: tooLargeTOC, want: wantFallback, code: states.CodeMetadataTooLarge, noRequest: true},
		{name: "8 ranges refused", pull: partial, layer: zstdLayer, srcOpts: []testutil.SourceOption{testutil.Refuse()}, want: wantFallbackC, code: states.CodeRangesRefused},
		{name: "8 ranges refused with convert_images", pull: partialConvert, layer: zstdLayer, srcOpts: []testutil.SourceOption{testutil.Refuse()}, want: wantConvert, code: states.CodeRangesRefused},
		{name: "9 source error", pull: partialConvert, layer: zstdLayer, srcOpts: []testutil.SourceOption{testutil.FailWith(errors.New("registry on fire"))}, want: wantHardError, errSubstr: "registry on fire"},
		{name: "9 TOC digest mismatch", pull: partial, layer: editAnnotations(annTOCDigest, string(digest.FromString("other"))), want: wantHardError, errSubstr: "digest"},
		{name: "9 corrupt stream", pull: partial, layer: zstdLayer, srcOpts: []testutil.SourceOption{testutil.CorruptStreams(0)}, want: wantHardError, errSubstr: "digest"},
		{name: "10 tarSplitDigest without position", pull: partial, layer: editAnnotations(annTarSplitPos, ""), want: wantHardError, errSubstr: "tarSplitDigest"},
		{name: "11 tar-split corrupt", pull: partialConvert, layer: zstdLayer, srcOpts: []testutil.SourceOption{testutil.CorruptStreams(1)}, want: wantHardError, errSubstr: "tar-split"},
		{name: "12 no tar-split", pull: partial, layer: withoutTarSplit, want: wantFallbackC, code: states.CodeNoTarSplit},
		{name: "12 no tar-split with convert_images", pull: partialConvert, layer: withoutTarSplit, want: wantConvert, code: states.CodeNoTarSplit},
		{name: "12 no tar-split with insecure", pull: partialInsec, layer: withoutTarSplit, want: wantLoaded},
		{name: "13 eStargz without insecure", pull: partial, layer: estargzLayer, want: wantFallbackC, code: states.CodeEStargzUnverifiable, noRequest: true},
		{name: "13 eStargz without insecure with convert_images", pull: partialConvert, layer: estargzLayer, want: wantConvert, code: states.CodeEStargzUnverifiable, noRequest: true},
		{name: "13 eStargz with insecure", pull: partialInsec, layer: estargzLayer, want: wantLoaded, requests: 2},
		{name: "14 eStargz blob shorter than its footer", pull: partialInsec, layer: estargzEdit(func(b []byte) []byte { return b[:40] }), want: wantHardError, errSubstr: "51", noRequest: true},
		{name: "15 eStargz footer refused", pull: partialInsec, layer: estargzLayer, srcOpts: []testutil.SourceOption{testutil.RefuseCall(1)}, want: wantFallbackC, code: states.CodeRangesRefused},
		{name: "15 eStargz TOC refused", pull: partialInsec, layer: estargzLayer, srcOpts: []testutil.SourceOption{testutil.RefuseCall(2)}, want: wantFallbackC, code: states.CodeRangesRefused},
		{name: "15 eStargz refused with convert_images", pull: withOpts(partialInsec, "convert_images", "true"), layer: estargzLayer, srcOpts: []testutil.SourceOption{testutil.RefuseCall(1)}, want: wantConvert, code: states.CodeRangesRefused},
		{name: "16 eStargz footer offset not hex", pull: partialInsec, layer: estargzEdit(func(b []byte) []byte { copy(b[len(b)-51+16:], "zzzzzzzzzzzzzzzz"); return b }), want: wantHardError, errSubstr: "hex"},
		{name: "17 eStargz TOC too large", pull: withOpts(partialInsec, policyUpstream...), layer: hugeEStargz, want: wantFallback, code: states.CodeMetadataTooLarge},
		{name: "17 eStargz TOC too large with convert_images", pull: withOpts(partialInsec, append([]string{"convert_images", "true"}, policyUpstream...)...), layer: hugeEStargz, want: wantHardError, errSubstr: "neither a partial pull nor convert_images is possible"},
		{name: "17 eStargz TOC over upstream's limit, policy stream", pull: partialInsec, layer: hugeEStargz, want: wantHardError, errSubstr: "eStargz"},
		{name: "18 eStargz TOC digest mismatch", pull: partialInsec, layer: estargzWrongDigest, want: wantHardError, errSubstr: "digest"},
		{name: "19 no TOC annotation", pull: partial, layer: gzipLayer, want: wantFallbackC, code: states.CodeNoTOC, noRequest: true},
		{name: "19 no TOC annotation with convert_images", pull: partialConvert, layer: gzipLayer, want: wantConvert, code: states.CodeNoTOC, noRequest: true},
		{name: "partial pull", pull: partial, layer: zstdLayer, want: wantLoaded},
		{name: "partial pull with convert_images", pull: partialConvert, layer: zstdLayer, want: wantLoaded},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			newStore := row.store
			if newStore == nil {
				newStore = overlay
			}
			store := newStore(t, row.pull)
			layer := row.layer(t)
			src := testutil.NewSource(layer.Blob, row.srcOpts...)

			d, err := OpenWithStore(t.Context(), store, layer.Digest, layer.Size(), layer.Annotations, src)
			require.NotNil(t, d)
			defer func() { require.NoError(t, d.Close()) }()
			dump := d.Dump()

			var fb chunked.ErrFallbackToOrdinaryLayerDownload
			var ours *FallbackError
			switch row.want {
			case wantFallback, wantFallbackC:
				require.Error(t, err)
				require.ErrorAs(t, err, &fb, "must match upstream's fallback type")
				require.ErrorAs(t, err, &ours)
				assert.Equal(t, row.code, ours.Reason.Code)
				assert.Equal(t, row.want == wantFallbackC, ours.CanConvert())
				assert.Equal(t, states.Fallback, d.State())
				require.NotNil(t, dump.Reason)
				assert.Equal(t, row.code, dump.Reason.Code)
			case wantHardError:
				require.Error(t, err)
				assert.False(t, errors.As(err, &fb), "hard error must not match the fallback type: %v", err)
				assert.Contains(t, err.Error(), row.errSubstr)
				assert.Equal(t, states.Failed, d.State())
				assert.Equal(t, err.Error(), dump.Error)
			case wantConvert:
				require.NoError(t, err)
				assert.Equal(t, states.ConvertPending, d.State())
				require.NotNil(t, dump.Reason)
				assert.Equal(t, row.code, dump.Reason.Code)
			case wantLoaded:
				require.NoError(t, err)
				assert.Equal(t, states.MetadataLoaded, d.State())
				require.NotNil(t, dump.Metadata)
				want := row.requests
				if want == 0 {
					want = 1 // zstd:chunked: TOC and tar-split in one request
				}
				assert.Len(t, src.Requests(), want)
			}
			if row.noRequest {
				assert.Empty(t, src.Requests(), "decided without fetching anything")
			}
			// The drop-in constructor agrees and returns no differ on error.
			store2 := newStore(t, row.pull)
			d2, err2 := NewDiffer(t.Context(), store2, layer.Digest, layer.Size(), layer.Annotations, testutil.NewSource(layer.Blob, row.srcOpts...))
			if err != nil {
				assert.Nil(t, d2)
				assert.Equal(t, errors.As(err, &fb), errors.As(err2, &fb))
			} else {
				require.NoError(t, err2)
				require.NoError(t, d2.Close())
			}
			// The history ends in the state reached, with a reason for every
			// decision off the happy path.
			last := dump.History[len(dump.History)-1]
			assert.Equal(t, dump.State, last.To)
			if last.To == states.Fallback || last.To == states.Failed || last.To == states.ConvertPending {
				assert.NotEmpty(t, strings.TrimSpace(last.Reason.String()))
			}
		})
	}
}
