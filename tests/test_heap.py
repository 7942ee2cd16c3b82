"""The heap policy (minifw.kernels.heap): glibc keeps slack at its heap's top, so steps do not page-fault."""

import platform

import pytest

from minifw.kernels import heap

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt(M_TOP_PAD) is glibc's")


@glibc
def test_import_minifw_sets_the_top_pad():
    import minifw  # noqa: F401  (dispatch applies the policy on import)

    assert heap.report() == {"malloc_top_pad": heap.TOP_PAD}


@glibc
def test_apply_sets_a_size_and_zero_leaves_malloc_alone():
    try:
        assert heap.apply(1 << 20) and heap.report() == {"malloc_top_pad": 1 << 20}
        assert not heap.apply(0) and heap.report() == {"malloc_top_pad": 1 << 20}
    finally:
        heap.apply()
