package testutil

import (
	"bytes"
	"errors"
	"io"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.podman.io/storage/pkg/chunked"
)

type response struct {
	streams [][]byte
	errs    []error
}

func fetch(t *testing.T, s *Source, chunks ...chunked.ImageSourceChunk) (response, error) {
	t.Helper()
	streams, errs, err := s.GetBlobAt(chunks)
	if err != nil {
		return response{}, err
	}
	var r response
	for streams != nil || errs != nil {
		select {
		case st, ok := <-streams:
			if !ok {
				streams = nil
				continue
			}
			b, _ := io.ReadAll(st)
			st.Close()
			r.streams = append(r.streams, b)
		case e, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			r.errs = append(r.errs, e)
		}
	}
	return r, nil
}

func testBlob() []byte {
	b := make([]byte, 1000)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

var twoRanges = []chunked.ImageSourceChunk{{Offset: 0, Length: 10}, {Offset: 100, Length: 20}}

func TestSourceRecordsAndServes(t *testing.T) {
	b := testBlob()
	s := NewSource(b)
	r, err := fetch(t, s, twoRanges...)
	require.NoError(t, err)
	require.Equal(t, [][]byte{b[:10], b[100:120]}, r.streams)
	r, err = fetch(t, s, chunked.ImageSourceChunk{Offset: 990, Length: math.MaxUint64})
	require.NoError(t, err)
	require.Equal(t, [][]byte{b[990:]}, r.streams)
	require.Equal(t, [][]chunked.ImageSourceChunk{twoRanges, {{Offset: 990, Length: math.MaxUint64}}}, s.Requests())
	require.EqualValues(t, 40, s.BytesServed())
	// Invalid requests are recorded and rejected by internal/source.
	_, err = fetch(t, s, chunked.ImageSourceChunk{Offset: 5000, Length: 1})
	require.Error(t, err)
	require.Equal(t, 3, s.Calls())
}

func TestSourceFaults(t *testing.T) {
	b := testBlob()
	boom := errors.New("boom")
	lie := bytes.Repeat([]byte{'L'}, len(b))
	for name, tc := range map[string]struct {
		opts    []SourceOption
		wantErr error // immediate
		want    response
	}{
		"refuse 1st call":   {opts: []SourceOption{RefuseCall(1)}, wantErr: chunked.ErrBadRequest{}},
		"refuse other call": {opts: []SourceOption{RefuseCall(2)}, want: response{streams: [][]byte{b[:10], b[100:120]}}},
		"more than 1 range": {opts: []SourceOption{RefuseMoreThan(1)}, wantErr: chunked.ErrBadRequest{}},
		"immediate error":   {opts: []SourceOption{FailWith(boom)}, wantErr: boom},
		"error after 1":     {opts: []SourceOption{ErrorAfter(1, boom)}, want: response{streams: [][]byte{b[:10]}, errs: []error{boom}}},
		"error after all":   {opts: []SourceOption{ErrorAfter(2, boom)}, want: response{streams: [][]byte{b[:10], b[100:120]}, errs: []error{boom}}},
		"fewer streams":     {opts: []SourceOption{StreamLimit(1)}, want: response{streams: [][]byte{b[:10]}}},
		"more streams":      {opts: []SourceOption{ExtraStreams(1)}, want: response{streams: [][]byte{b[:10], b[100:120], []byte("surplus stream")}}},
		"truncate 2nd":      {opts: []SourceOption{TruncateStreams(1, 5)}, want: response{streams: [][]byte{b[:10], b[100:115]}}},
		"corrupt all": {opts: []SourceOption{CorruptStreams(-1)}, want: response{streams: [][]byte{
			flip(b[:10], 5), flip(b[100:120], 10)}}},
		"lying":             {opts: []SourceOption{Lying(lie)}, want: response{streams: [][]byte{lie[:10], lie[100:120]}}},
		"multi 400":         {opts: []SourceOption{MultiRange(MultiRangeBadRequest)}, wantErr: chunked.ErrBadRequest{}},
		"multi 501":         {opts: []SourceOption{MultiRange(MultiRangeNotImplemented)}, wantErr: &StatusError{Code: 501}},
		"multi 416":         {opts: []SourceOption{MultiRange(MultiRangeNotSatisfiable)}, wantErr: &StatusError{Code: 416}},
		"multi whole blob":  {opts: []SourceOption{MultiRange(MultiRangeWholeBlob)}, want: response{streams: [][]byte{b[:10], b[100:120]}}},
		"scoped from call1": {opts: []SourceOption{FromCall(1, OnCall(1, FailWith(boom)))}, wantErr: boom},
	} {
		t.Run(name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			s := NewSource(b, tc.opts...)
			r, err := fetch(t, s, twoRanges...)
			if tc.wantErr != nil {
				require.Equal(t, tc.wantErr, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, r)
			waitGoroutines(t, before)
		})
	}
}

func flip(b []byte, at int) []byte {
	c := append([]byte(nil), b...)
	c[at] ^= 0xff
	return c
}

// The ErrBadRequest must survive the differ's errors.As check and its type assertion.
func TestSourceBadRequestIsValueType(t *testing.T) {
	_, _, err := NewSource(testBlob(), Refuse()).GetBlobAt(twoRanges)
	_, ok := err.(chunked.ErrBadRequest)
	require.True(t, ok)
}

func TestSourceMultiRangeOnlyAffectsMultiRange(t *testing.T) {
	b := testBlob()
	s := NewSource(b, MultiRange(MultiRangeNotImplemented))
	r, err := fetch(t, s, chunked.ImageSourceChunk{Offset: 3, Length: 4})
	require.NoError(t, err)
	require.Equal(t, [][]byte{b[3:7]}, r.streams)

	s = NewSource(b, MultiRange(MultiRangeWholeBlob))
	_, err = fetch(t, s, twoRanges...)
	require.NoError(t, err)
	require.EqualValues(t, len(b), s.BytesServed())
}

func waitGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("goroutine leak: before %d, now %d", before, runtime.NumGoroutine())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
