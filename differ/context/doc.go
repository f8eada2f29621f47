// Package dcontext (directory differ/context) holds the differ's immutable
// context: what is pulled (blob identity and annotations), from where (the
// range source), how (pull options, limits) and where scratch data goes. It is
// built and validated once by New and never changes afterwards; every getter
// returns a copy.
//
// The package is named dcontext, not context, so that it never shadows the
// standard library's context package in files that need both.
package dcontext
