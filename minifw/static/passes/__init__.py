"""Compiler passes: each is a small function from one IRGraph to the next.

``PASSES`` lists them in the order :func:`minifw.static.compile` runs them;
pass ``passes=[...]`` (names) or ``disable=(...)`` to choose.
"""

from __future__ import annotations

from .algebraic import algebraic_simplification
from .constant_folding import constant_folding
from .cse import cse
from .dce import dce
from .fusion import fusion

PASS_FUNCTIONS = {
    "constant_folding": constant_folding,
    "algebraic_simplification": algebraic_simplification,
    "cse": cse,
    "dce": dce,
    "fusion": fusion,
}
PASSES: list[str] = ["cse", "algebraic_simplification", "constant_folding", "dce", "fusion"]

__all__ = ["PASSES", "PASS_FUNCTIONS", "algebraic_simplification", "constant_folding", "cse", "dce", "fusion"]
