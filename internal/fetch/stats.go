package fetch

// Stats describes what a Fetch did.
type Stats struct {
	Requests     int   // GetBlobAt calls made, refused ones included
	Ranges       int   // ranges in the accepted calls
	Halvings     int   // times a refusal (ErrBadRequest) halved the ranges per call
	BytesFetched int64 // bytes read from the source's streams
	BytesWritten int64 // decompressed bytes written to files (holes excluded)
	HoleBytes    int64 // bytes left as holes (zero chunks)
	LocalBytes   int64 // bytes copied from Local chunks (content already on disk)
	Files        int   // files completed, verified and handed to Sink.Close
}

// Add adds what another fetch did (a second FetchFiles for the same layer).
func (s *Stats) Add(o Stats) {
	s.Requests += o.Requests
	s.Ranges += o.Ranges
	s.Halvings += o.Halvings
	s.BytesFetched += o.BytesFetched
	s.BytesWritten += o.BytesWritten
	s.HoleBytes += o.HoleBytes
	s.LocalBytes += o.LocalBytes
	s.Files += o.Files
}
