// Package docs holds no code: its test checks that docs/ describes the code
// (every package in ARCHITECTURE.md's table, every rule or format fact a
// comment cites defined in BEHAVIOUR.md or FORMATS.md).
package docs
