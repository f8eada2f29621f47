// Package source provides production range sources implementing
// chunked.ImageSourceSeekable over local blobs.
//
// Consumers of GetBlobAt must drain both returned channels to the end (or at
// least close every stream they receive until the stream channel is closed):
// the producer goroutine sends one stream per requested range and waits for
// each stream to be closed or fully read before producing the next, exactly
// like containers/image does for HTTP responses. A consumer that abandons the
// channels early leaks that goroutine.
package source
