"""``minifw.expr``: a safe parser for expressions typed by people.

>>> from minifw.expr import parse
>>> parse("x - exp(-2*sin(4*x)**2)").variables
['x']
"""

from .expression import Expression, Step, constant, parse, trace
from .parser import ExprError, ExprSyntaxError, UnknownNameError, functions
from .stepper import Highlight, Stepper, StepperError

__all__ = ["Expression", "Step", "parse", "constant", "trace", "ExprError", "ExprSyntaxError", "UnknownNameError",
           "functions", "Stepper", "Highlight", "StepperError"]
