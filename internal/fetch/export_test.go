package fetch

// SetWindow makes planning windows hold at most atoms atoms and clamps
// clamped ranges (tests run sequentially) until restore is called.
func SetWindow(atoms, clamps int) (restore func()) {
	a, c := windowAtoms, windowClamps
	windowAtoms, windowClamps = atoms, clamps
	return func() { windowAtoms, windowClamps = a, c }
}
