// Package formats holds what the format parsers below it share: the error
// types they return for limits, layouts and digests, and the one Limits type
// with its defaults. The parsers themselves live in formats/zstdchunked and
// formats/estargz; the facts they rely on are written in docs/FORMATS.md.
package formats
