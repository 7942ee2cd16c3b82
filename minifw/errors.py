"""The root of minifw's own errors.

Every error a public entry point raises on bad input derives from :class:`MinifwError` as well as from the
builtin it refines (``ExprError`` is also a ``ValueError``, ``DeviceError`` a ``TypeError``), so
``except mf.MinifwError`` catches exactly minifw's refusals and ``except ValueError`` keeps working.
"""

from __future__ import annotations


class MinifwError(Exception):
    """A refusal by minifw with a message naming the problem (a shape, a column, a feed, a field)."""


class TransformError(MinifwError, ValueError, TypeError):
    """A function transform (``grad``, ``vjp``, ``jvp``, ``jacfwd``, ``jacrev``, ``hessian``, the trace tables)
    refused its arguments: an ``argnums`` out of range, a non-scalar output for ``grad``, tangents that do not
    match their primals, or a composition minifw does not run."""


__all__ = ["MinifwError", "TransformError"]
