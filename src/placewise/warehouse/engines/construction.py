"""Ibis's expression nodes made with their arguments matched by position, not by ``inspect``'s binding.

Every node of an Ibis expression (a column, a sum, a join, a projection) is made by ``Annotable.__create__``, which
binds its arguments to the class's signature with ``inspect.Signature.bind`` and then matches each against its
pattern (``Signature.validate``). The binding is general (keyword-only and variadic parameters, every error worded)
and slow: about a tenth of the time spent building the catalogue's queries, which make some 85 thousand nodes in a
computation, and a few per cent of compiling them. Nearly every node class takes only parameters that may be given
by position or by name; for those, :func:`created` takes the arguments in the signature's order (by position, then
by name, then the default) and matches them exactly as Ibis does, in the same order. Anything else (another kind of
parameter, a missing, repeated or unknown argument, a value its pattern refuses) goes to Ibis's own ``__create__``,
which makes the node or raises its own error, so a node made either way is the same node.
"""

from __future__ import annotations

from inspect import Parameter
from typing import Any

from ibis.common.annotations import EMPTY
from ibis.common.grounds import Annotable
from ibis.common.patterns import NoMatch, Pattern

IBIS_CREATE = Annotable.__dict__["__create__"].__func__
"""Ibis's own ``Annotable.__create__`` (binds with ``inspect``), for every call :func:`created` does not take."""

Plan = tuple[tuple[str, Any, Pattern], ...] | None
"""A class's parameters in order as (name, default, pattern), or None where one is not positional-or-keyword."""

_plans: dict[type, Plan] = {}
"""Each node class's parameters (:data:`Plan`), worked out the first time one is made."""


def _plan(cls: type) -> Plan:
    """The class's parameters as :func:`created` takes them, or None where it leaves the class to Ibis."""
    parameters = cls.__signature__.parameters.values()  # type: ignore[attr-defined]
    if any(p.kind is not Parameter.POSITIONAL_OR_KEYWORD for p in parameters):
        return None
    return tuple((p.name, p.default, p.annotation.pattern) for p in parameters)


def created(cls: type, *args: Any, **kwargs: Any) -> Any:
    """A node of class ``cls``: its arguments taken in the signature's order and each matched against its pattern,
    as Ibis binds and matches them; any call that is not plain is Ibis's own (:data:`IBIS_CREATE`)."""
    try:
        plan = _plans[cls]
    except KeyError:
        plan = _plans[cls] = _plan(cls)
    if plan is None or len(args) > len(plan):
        return IBIS_CREATE(cls, *args, **kwargs)
    this: dict[str, Any] = {}
    named = 0
    for i, (name, default, pattern) in enumerate(plan):
        if i < len(args):
            value = args[i]
        elif name in kwargs:
            value = kwargs[name]
            named += 1
        elif default is not EMPTY:
            value = default
        else:  # missing: Ibis raises its error
            return IBIS_CREATE(cls, *args, **kwargs)
        result = pattern.match(value, this)
        if result is NoMatch:  # refused: Ibis raises its error, naming every argument refused
            return IBIS_CREATE(cls, *args, **kwargs)
        this[name] = result
    if named != len(kwargs):  # an unknown argument, or one given both by position and by name
        return IBIS_CREATE(cls, *args, **kwargs)
    return super(Annotable, cls).__create__(**this)


def install() -> None:
    """Have Ibis make its nodes with :func:`created`."""
    Annotable.__create__ = classmethod(created)
