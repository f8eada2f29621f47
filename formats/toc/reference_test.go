package toc

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// refEntry mirrors upstream's minimal.FileMetadata JSON shape; encoding/json
// decodes it as the reference the streaming decoder is checked against.
type refEntry struct {
	Type        string            `json:"type"`
	Name        string            `json:"name"`
	Linkname    string            `json:"linkName,omitempty"`
	Mode        int64             `json:"mode,omitempty"`
	Size        int64             `json:"size,omitempty"`
	UID         int               `json:"uid,omitempty"`
	GID         int               `json:"gid,omitempty"`
	ModTime     *time.Time        `json:"modtime,omitempty"`
	AccessTime  *time.Time        `json:"accesstime,omitempty"`
	ChangeTime  *time.Time        `json:"changetime,omitempty"`
	Devmajor    int64             `json:"devMajor,omitempty"`
	Devminor    int64             `json:"devMinor,omitempty"`
	Xattrs      map[string]string `json:"xattrs,omitempty"`
	Digest      string            `json:"digest,omitempty"`
	Offset      int64             `json:"offset,omitempty"`
	EndOffset   int64             `json:"endOffset,omitempty"`
	ChunkSize   int64             `json:"chunkSize,omitempty"`
	ChunkOffset int64             `json:"chunkOffset,omitempty"`
	ChunkDigest string            `json:"chunkDigest,omitempty"`
	ChunkType   string            `json:"chunkType,omitempty"`
	InnerOffset int64             `json:"innerOffset,omitempty"`
}

type refTOC struct {
	Version        int        `json:"version"`
	Entries        []refEntry `json:"entries"`
	TarSplitDigest string     `json:"tarSplitDigest,omitempty"`
}

func (r refEntry) toEntry() Entry {
	t := func(p *time.Time) time.Time {
		if p == nil {
			return time.Time{}
		}
		return *p
	}
	e := Entry{
		Type: r.Type, Name: r.Name, LinkName: r.Linkname, Mode: r.Mode, Size: r.Size,
		UID: r.UID, GID: r.GID, ModTime: t(r.ModTime), AccessTime: t(r.AccessTime), ChangeTime: t(r.ChangeTime),
		DevMajor: r.Devmajor, DevMinor: r.Devminor, Xattrs: r.Xattrs, Digest: digest.Digest(r.Digest),
		Offset: r.Offset, EndOffset: r.EndOffset, ChunkSize: r.ChunkSize, ChunkOffset: r.ChunkOffset,
		ChunkDigest: digest.Digest(r.ChunkDigest), ChunkType: r.ChunkType, InnerOffset: r.InnerOffset,
	}
	if e.Type == TypeReg && e.Size == 0 && e.Digest == "" {
		e.Digest = EmptyDigest
	}
	return e
}

// decodeAll runs the streaming decoder to the end.
func decodeAll(t testing.TB, data []byte) ([]Entry, *Decoder, error) {
	t.Helper()
	d := NewDecoder(bytes.NewReader(data), WithBufferSize(37)) // tiny buffer: exercise refills
	var out []Entry
	for {
		e, err := d.Next()
		if err == io.EOF {
			return out, d, nil
		}
		if err != nil {
			return out, d, err
		}
		out = append(out, *e)
	}
}

var entryTypes = []string{TypeReg, TypeDir, TypeSymlink, TypeHardlink, TypeChar, TypeBlock, TypeFifo, TypeChunk}

func randDigest(r *rand.Rand) string {
	var b [8]byte
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return digest.FromBytes(b[:]).String()
}

func randTime(r *rand.Rand) *time.Time {
	t := time.Unix(r.Int64N(4e9)-1e9, r.Int64N(1e9)*int64(r.IntN(2))).In(time.FixedZone("z", 3600*(r.IntN(25)-12)))
	return &t
}

// genEntry builds a random entry; every optional field is present or not.
func genEntry(r *rand.Rand, i int) refEntry {
	e := refEntry{Type: entryTypes[r.IntN(len(entryTypes))], Name: fmt.Sprintf("dir%d/file-%d\u00e9<&>\"\\\t", r.IntN(10), i)}
	p := func() bool { return r.IntN(2) == 0 }
	if p() {
		e.Linkname = "../target/" + fmt.Sprint(r.IntN(100))
	}
	if p() {
		e.Mode = r.Int64N(0o7777)
	}
	if p() {
		e.Size = r.Int64N(1 << 40)
	}
	if p() {
		e.UID = r.IntN(1 << 31)
	}
	if p() {
		e.GID = r.IntN(1 << 31)
	}
	if p() {
		e.ModTime = randTime(r)
	}
	if p() {
		e.AccessTime = randTime(r)
	}
	if p() {
		e.ChangeTime = randTime(r)
	}
	if p() {
		e.Devmajor = r.Int64N(1 << 20)
	}
	if p() {
		e.Devminor = r.Int64N(1 << 20)
	}
	if r.IntN(4) == 0 {
		e.Xattrs = map[string]string{}
		for j := range r.IntN(3) + 1 {
			v := make([]byte, r.IntN(20))
			for k := range v {
				v[k] = byte(r.Uint32())
			}
			e.Xattrs[fmt.Sprintf("user.x%d", j)] = base64.StdEncoding.EncodeToString(v)
		}
	}
	if p() {
		e.Digest = randDigest(r)
	}
	if p() {
		e.Offset = r.Int64N(1 << 40)
	}
	if p() {
		e.EndOffset = r.Int64N(1 << 40)
	}
	if p() {
		e.ChunkSize = r.Int64N(1 << 20)
	}
	if p() {
		e.ChunkOffset = r.Int64N(1 << 30)
	}
	if p() {
		e.ChunkDigest = randDigest(r)
	}
	if r.IntN(5) == 0 {
		e.ChunkType = ChunkTypeZeros
	}
	if r.IntN(10) == 0 {
		e.InnerOffset = r.Int64N(1 << 20)
	}
	return e
}

// mangleKeys changes key case and inserts unknown keys, which both decoders
// must treat the same way (case-insensitive match, skip unknown).
func mangleKeys(r *rand.Rand, obj map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range obj {
		if r.IntN(4) == 0 {
			k = strings.ToUpper(k)
		}
		out[k] = v
	}
	if r.IntN(3) == 0 {
		out[fmt.Sprintf("unknownKey%d", r.IntN(100))] = map[string]any{"nested": []any{1, "two", nil, true, 3.5}}
	}
	return out
}

func genTOC(t testing.TB, r *rand.Rand, n int, mangle bool) []byte {
	t.Helper()
	var entries []any
	for i := range n {
		raw, err := json.Marshal(genEntry(r, i))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		if mangle {
			m = mangleKeys(r, m)
		}
		entries = append(entries, m)
	}
	// Field order in a Go map marshal is sorted, so build the top level by
	// hand to place "entries" before or after the other keys.
	var buf bytes.Buffer
	ent, err := json.Marshal(entries)
	if err != nil {
		t.Fatal(err)
	}
	fields := []string{fmt.Sprintf(`"version":%d`, r.IntN(3)), `"entries":` + string(ent)}
	if r.IntN(2) == 0 {
		fields = append(fields, `"tarSplitDigest":"`+randDigest(r)+`"`)
	}
	if mangle && r.IntN(2) == 0 {
		fields = append(fields, `"other":{"a":[1,2,{"b":null}]}`)
	}
	r.Shuffle(len(fields), func(i, j int) { fields[i], fields[j] = fields[j], fields[i] })
	buf.WriteString("{" + strings.Join(fields, ",") + "}")
	if r.IntN(2) == 0 {
		buf.WriteString("\n \t")
	}
	return buf.Bytes()
}

func TestDecoderMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for iter := range 200 {
		data := genTOC(t, r, r.IntN(40), iter%2 == 1)
		var ref refTOC
		if err := json.Unmarshal(data, &ref); err != nil {
			t.Fatalf("reference: %v", err)
		}
		got, d, err := decodeAll(t, data)
		if err != nil {
			t.Fatalf("iteration %d: %v\n%s", iter, err, data)
		}
		if len(got) != len(ref.Entries) {
			t.Fatalf("iteration %d: %d entries, reference %d", iter, len(got), len(ref.Entries))
		}
		for i := range got {
			want := ref.Entries[i].toEntry()
			if !entriesEqual(got[i], want) {
				t.Fatalf("iteration %d entry %d:\n got %+v\nwant %+v", iter, i, got[i], want)
			}
		}
		if d.Version() != ref.Version || string(d.TarSplitDigest()) != ref.TarSplitDigest {
			t.Fatalf("iteration %d: top level %d %q, reference %d %q", iter, d.Version(), d.TarSplitDigest(), ref.Version, ref.TarSplitDigest)
		}
	}
}

// entriesEqual compares times as instants (the zone is not significant).
func entriesEqual(a, b Entry) bool {
	if !a.ModTime.Equal(b.ModTime) || !a.AccessTime.Equal(b.AccessTime) || !a.ChangeTime.Equal(b.ChangeTime) {
		return false
	}
	a.ModTime, a.AccessTime, a.ChangeTime = time.Time{}, time.Time{}, time.Time{}
	b.ModTime, b.AccessTime, b.ChangeTime = time.Time{}, time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

func TestDecoderErrors(t *testing.T) {
	cases := []struct {
		name, doc string
		want      []string // substrings of the error
		is        error
	}{
		{"top level array", `[]`, []string{"top level is array"}, nil},
		{"top level null", `null`, []string{"top level is null"}, nil},
		{"empty input", ``, []string{"unexpected EOF"}, io.ErrUnexpectedEOF},
		{"trailing object", `{"entries":[]}{}`, []string{"unexpected data after"}, ErrTrailingData},
		{"trailing garbage", `{"entries":[]} x`, []string{"unexpected data after"}, ErrTrailingData},
		{"trailing brace", `{"entries":[]}}`, []string{"unexpected data after"}, ErrTrailingData},
		{"empty top key", `{"":1,"entries":[]}`, []string{"empty key"}, ErrTrailingData},
		{"truncated", `{"entries":[{"type":"reg","name":"a"}`, []string{"entry 1"}, nil},
		{"truncated in entry", `{"entries":[{"type":"reg","na`, []string{"entry 0"}, nil},
		{"truncated top", `{"entries":[]`, []string{"toc:"}, nil},
		{"entries not array", `{"entries":{}}`, []string{`key "entries"`, "want array, got object"}, nil},
		{"entry not object", `{"entries":[1]}`, []string{"entry 0", "want object, got number"}, nil},
		{"string as int", `{"entries":[{"name":"a/b","size":"12"}]}`, []string{`entry 0 ("a/b")`, `key "size"`, "want integer, got string"}, nil},
		{"float as int", `{"entries":[{"name":"a","size":1.5}]}`, []string{`key "size"`}, nil},
		{"int overflow", `{"entries":[{"name":"a","offset":99999999999999999999}]}`, []string{`key "offset"`, "overflow"}, nil},
		{"int as string", `{"entries":[{"name":"a","type":3}]}`, []string{`key "type"`, "want string, got number"}, nil},
		{"bad time", `{"entries":[{},{"name":"usr/bin/x","modtime":"yesterday"}]}`, []string{`entry 1 ("usr/bin/x")`, `key "modtime"`, "invalid time"}, nil},
		{"empty time", `{"entries":[{"name":"x","accesstime":""}]}`, []string{`key "accesstime"`}, nil},
		{"bad base64", `{"entries":[{"name":"x","xattrs":{"user.a":"!!"}}]}`, []string{`key "xattrs"`, `xattr "user.a"`, "base64"}, nil},
		{"xattr not string", `{"entries":[{"name":"x","xattrs":{"user.a":1}}]}`, []string{`key "xattrs"`, "want string"}, nil},
		{"xattrs not object", `{"entries":[{"name":"x","xattrs":[]}]}`, []string{`key "xattrs"`, "want object"}, nil},
		{"bad tarSplitDigest", `{"entries":[],"tarSplitDigest":"sha256:zz"}`, []string{`key "tarSplitDigest"`, "invalid digest"}, nil},
		{"empty tarSplitDigest", `{"tarSplitDigest":""}`, []string{`key "tarSplitDigest"`}, nil},
		{"tarSplitDigest number", `{"tarSplitDigest":5}`, []string{`key "tarSplitDigest"`, "want string"}, nil},
		{"version string", `{"version":"1"}`, []string{`key "version"`, "want integer"}, nil},
		{"syntax in entry", `{"entries":[{"name":"a" "type":"reg"}]}`, []string{"entry 0"}, nil},
		{"bad literal", `{"entries":[{"name":tru}]}`, []string{`key "name"`}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, d, err := decodeAll(t, []byte(c.doc))
			if err == nil {
				t.Fatalf("no error for %s", c.doc)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Errorf("error %T is not a *DecodeError", err)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %v is not %v", err, c.is)
			}
			if _, err2 := d.Next(); err2 != err {
				t.Errorf("error not sticky: %v then %v", err, err2)
			}
		})
	}
}

func TestDecoderAccepts(t *testing.T) {
	cases := []struct {
		name, doc string
		n         int
		check     func(t *testing.T, es []Entry, d *Decoder)
	}{
		{"empty object", `{}`, 0, nil},
		{"whitespace", " \n{ \"entries\" : [ ] } \n\t", 0, nil},
		{"null entries", `{"entries":null,"version":1}`, 0, nil},
		{"top fields after entries", `{"entries":[{"type":"dir","name":"a/"}],"tarsplitdigest":"` + string(EmptyDigest) + `","VERSION":7}`, 1,
			func(t *testing.T, es []Entry, d *Decoder) {
				if d.Version() != 7 || d.TarSplitDigest() != EmptyDigest {
					t.Errorf("top level: %d %q", d.Version(), d.TarSplitDigest())
				}
			}},
		{"empty file digest", `{"entries":[{"type":"reg","name":"e"},{"type":"reg","name":"f","size":0,"digest":"sha256:x"}]}`, 2,
			func(t *testing.T, es []Entry, d *Decoder) {
				if es[0].Digest != EmptyDigest || es[1].Digest != "sha256:x" {
					t.Errorf("digests %q %q", es[0].Digest, es[1].Digest)
				}
			}},
		{"entry empty key skipped", `{"entries":[{"":1,"name":"a","Type":"fifo"}]}`, 1,
			func(t *testing.T, es []Entry, d *Decoder) {
				if es[0].Name != "a" || es[0].Type != TypeFifo {
					t.Errorf("%+v", es[0])
				}
			}},
		{"nulls", `{"entries":[{"name":null,"size":null,"modtime":null,"xattrs":null}]}`, 1, nil},
		{"xattrs decoded", `{"entries":[{"name":"x","xattrs":{"user.a":"aGk=","security.b":""}}]}`, 1,
			func(t *testing.T, es []Entry, d *Decoder) {
				x, err := es[0].DecodeXattrs()
				if err != nil || string(x["user.a"]) != "hi" || len(x["security.b"]) != 0 || len(x) != 2 {
					t.Errorf("%q %v", x, err)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			es, d, err := decodeAll(t, []byte(c.doc))
			if err != nil {
				t.Fatal(err)
			}
			if len(es) != c.n {
				t.Fatalf("%d entries, want %d", len(es), c.n)
			}
			if c.check != nil {
				c.check(t, es, d)
			}
			if _, err := d.Next(); err != io.EOF {
				t.Errorf("Next after EOF: %v", err)
			}
		})
	}
}

// errReader fails after its data.
type errReader struct {
	data []byte
	err  error
}

func (r *errReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestDecoderReadError(t *testing.T) {
	boom := errors.New("boom")
	d := NewDecoder(&errReader{data: []byte(`{"entries":[{"name":"a"},`), err: boom})
	if _, err := d.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Next(); !errors.Is(err, boom) {
		t.Fatalf("want boom, got %v", err)
	}
}
