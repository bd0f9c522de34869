"""Old import path of the call path (kept working): see :mod:`hookwise.plugins.dispatch` and
:mod:`hookwise.plugins.codegen`."""

from hookwise.plugins.codegen import ImplCall
from hookwise.plugins.dispatch import OrderedHookCaller, make_caller

__all__ = ["ImplCall", "OrderedHookCaller", "make_caller"]
