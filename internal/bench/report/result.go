// Package report holds what the side-by-side benchmark measures and how it
// is summarised: pullone's result line, medians and ratios, and the markdown
// section written into docs/BENCHMARKS.md.
package report

// Result is the one JSON line pullone prints for one pull.
type Result struct {
	Differ string `json:"differ"` // "ours" or "upstream"
	State  string `json:"state,omitempty"`
	// FellBack: the differ declined and the layer was downloaded whole
	// and applied with PutLayer, as c/image does.
	FellBack bool `json:"fell_back,omitempty"`

	// Timed span: NewDiffer through ApplyStagedLayer.
	WallS float64 `json:"wall_s"`
	UserS float64 `json:"user_s"`
	SysS  float64 `json:"sys_s"`
	// Close is outside the timed span; reported so nothing hides there.
	CloseS float64 `json:"close_s"`

	// Whole-process peak RSS at exit, so both sides pay the same runtime
	// and store start-up overhead: VmHWM, this address space's own peak.
	// RusageMaxRSSKiB is getrusage's ru_maxrss, which Linux carries over
	// execve from the launcher's address space (see pullone's hwm.go); it
	// is only meaningful when it exceeds the launcher's peak.
	MaxRSSKiB         int64 `json:"max_rss_kib"`
	RusageMaxRSSKiB   int64 `json:"rusage_max_rss_kib"`
	ChildrenMaxRSSKiB int64 `json:"children_max_rss_kib"`

	// Counted by the file-backed source, identically for both differs.
	BytesFetched int64 `json:"bytes_fetched"`
	Requests     int64 `json:"requests"`
	Ranges       int64 `json:"ranges"`

	// Reuse is our differ's own account of the pull (its dump's apply
	// summary); upstream reports nothing of the kind.
	Reuse *Reuse `json:"reuse,omitempty"`

	LayerID    string `json:"layer_id"`
	DiffID     string `json:"diffid"`
	LayerFiles int    `json:"layer_files"` // entries under the layer's diff dir
}

// CPUS is user plus system time of the timed span.
func (r Result) CPUS() float64 { return r.UserS + r.SysS }

// Reuse is what our differ's dump says about fetching and reusing content.
type Reuse struct {
	// LowerBound is the compressed size of the pieces whose digests occur
	// nowhere in the store: what any partial pull must fetch at least.
	LowerBound int64 `json:"lower_bound_bytes"`
	// ApplyBytes were fetched by ApplyDiff (the TOC, fetched earlier by
	// NewDiffer, is not in it).
	ApplyBytes      int64 `json:"apply_bytes"`
	ApplyRequests   int   `json:"apply_requests"`
	LocalChunkBytes int64 `json:"local_chunk_bytes"`
	FilesLinked     int   `json:"files_linked"`
	FilesCopied     int   `json:"files_copied"`
	FilesReflinked  int   `json:"files_reflinked"`
	ChunksLocal     int   `json:"chunks_local"`
	Rejected        int   `json:"stale_hits_rejected"`
}
