package apply

import (
	"errors"
	"math"
	"testing"
)

func TestSumSizesSaturates(t *testing.T) {
	if got := SumSizes(SumSizes(0, 5), -3); got != 5 {
		t.Errorf("negative size counted: %d", got)
	}
	if got := SumSizes(SumSizes(0, math.MaxInt64), math.MaxInt64); got != math.MaxUint64-1 {
		t.Errorf("2 × MaxInt64 = %d", got)
	}
	if got := SumSizes(math.MaxUint64-1, math.MaxInt64); got != math.MaxUint64 {
		t.Errorf("overflow not saturated: %d", got)
	}
}

func TestCheckFits(t *testing.T) {
	r := mustOpen(t, t.TempDir(), Options{})
	if err := r.CheckFits(1 << 20); err != nil {
		t.Fatalf("1 MiB does not fit: %v", err)
	}
	err := r.CheckFits(1 << 62)
	var tl *TooLargeError
	if !errors.As(err, &tl) || !errors.Is(err, ErrTooLarge) || tl.Need != 1<<62 || tl.Free == 0 {
		t.Fatalf("CheckFits(2^62): %v", err)
	}
}
