// Package registry is a chunked.ImageSourceSeekable over a registry's blob
// endpoint: HTTP range requests, adapted to what each registry actually does.
//
// A Client is one pull from one repository; it remembers what it learnt
// about the registry (multi-range requests refused → single ranges from then
// on). A Blob is one layer blob read through the Client. Every quirk seen in
// the field ends in either correct bytes or a typed refusal the caller turns
// into an ordinary download; never in a second download of the same blob:
//
//   - 501, 416 or 400 to a multi-range request: single-range requests with
//     bounded parallelism, for this request and the rest of the pull.
//   - 200 with the whole blob (or 206 with another range) to the first
//     request of a blob: reading stops at once and GetBlobAt returns
//     chunked.ErrBadRequest, so the differ falls back to an ordinary download;
//     the unread 200 body is parked for Download to continue. On a later
//     request of the same blob the body is spooled once and every later
//     range is served from the spool.
//   - 200 with a Content-Range matching the request (some proxies): used as
//     the 206 it is.
//   - 5xx, 429 and dropped connections: retried with backoff; a body that
//     breaks or stalls mid-stream is resumed from the first missing byte.
//
// Every HTTP body is closed, every goroutine ends with the Blob's context.
package registry
