"""``hookwise plugins NAME``: one plugin before it is enabled.

Its distribution and version (from metadata), what it is, its parameters (name, type,
default, one line of doc, from the signature and the docstring's ``:param name:`` lines or a
Google-style ``Args:`` section) and the hooks it implements. Showing a plugin imports it (it is
"explicitly inspected", as the principles allow) but builds nothing.
"""

from __future__ import annotations

import inspect
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from hookwise.plaintext import plain
from hookwise.plugins.building import accepted_params

#: Parameters every plugin takes that hookwise reads itself (never passed on).
RESERVED = (
    ("on_error", "the error policy: raise, warn or disable"),
    ("run_before", "plugins whose hooks this one's run before"),
    ("run_after", "plugins whose hooks this one's run after"),
)
_SPHINX = re.compile(r"^\s*:param\s+(?:[\w\[\], |.]+\s+)?(\w+):\s*(.*)$")
_GOOGLE = re.compile(r"^\s+(\w+)\s*(?:\([^)]*\))?:\s*(.*)$")


@dataclass
class Parameter:
    """One parameter of a plugin."""

    name: str
    type: str
    default: Any
    doc: str
    required: bool = False

    @property
    def default_text(self) -> str:
        """The default as TOML writes it (``(required)`` without one)."""
        return "(required)" if self.required else _default_text(self.default)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data (a default JSON cannot hold is given as its text)."""
        default = self.default
        try:
            json.dumps(default)
        except (TypeError, ValueError):
            default = _default_text(default)
        return {**asdict(self), "default": None if self.required else default}


@dataclass
class PluginDetails:
    """What ``hookwise plugins NAME`` shows."""

    name: str
    target: str | None
    distribution: str | None
    version: str | None
    kind: str
    summary: str
    parameters: list[Parameter] = field(default_factory=list)
    hooks: list[str] | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        data = asdict(self)
        data["parameters"] = [p.as_dict() for p in self.parameters]
        return data


#: How long one line of doc may be (a longer first sentence is cut at a word).
DOC_WIDTH = 100


def _first_sentence(text: str) -> str:
    text = plain(" ".join(text.split()))
    match = re.search(r"(?<!e\.g\.)(?<!i\.e\.)(?<=[.!?])\s+(?=[A-Z(`])", text)
    sentence = text[: match.start()] if match else text
    if len(sentence) <= DOC_WIDTH:
        return sentence
    return sentence[: DOC_WIDTH - 3].rsplit(" ", 1)[0] + "..."


def param_docs(docstring: str | None) -> dict[str, str]:
    """``{name: first sentence}`` from ``:param name: ...`` lines (continuations joined) or a
    Google-style ``Args:`` section."""
    docs: dict[str, list[str]] = {}
    current: list[str] | None = None
    in_args = False
    for line in inspect.cleandoc(docstring or "").splitlines():
        sphinx = _SPHINX.match(line)
        google = _GOOGLE.match(line) if in_args else None
        if sphinx or google:
            name, text = (sphinx or google).groups()  # type: ignore[union-attr]
            current = docs.setdefault(name, [])
            current.append(text)
        elif line.strip() in ("Args:", "Arguments:", "Parameters:"):
            in_args, current = True, None
        elif current is not None and line.startswith((" ", "\t")) and line.strip():
            current.append(line.strip())
        else:
            current = None
            in_args = in_args and bool(line.strip()) and line.startswith((" ", "\t"))
    return {name: _first_sentence(" ".join(parts)) for name, parts in docs.items()}


def _default_text(value: Any) -> str:
    from hookwise.config.specs import format_value

    if value is None:
        return "None"
    try:
        return format_value(value)
    except Exception:
        return repr(value)


def _annotation_text(annotation: Any) -> str:
    if annotation is inspect.Parameter.empty:
        return "-"
    if isinstance(annotation, str):
        return annotation
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def parameters_of(target: Any) -> list[Parameter]:
    """The keyword parameters ``target`` takes (a class's constructor, its bases' where it
    forwards ``**kwargs``), with their type, default and doc."""
    names, _ = accepted_params(target)
    sources = list(inspect.getmro(target)) if inspect.isclass(target) else [target]
    found: dict[str, Parameter] = {}
    for source in sources:
        function = source.__dict__.get("__init__") if inspect.isclass(source) else source
        if function is None or source is object:
            continue
        try:
            signature = inspect.signature(function)
        except (TypeError, ValueError):
            continue
        docs = {**param_docs(getattr(function, "__doc__", None)), **param_docs(source.__doc__)}
        for parameter in signature.parameters.values():
            if parameter.name not in names or parameter.name in found:
                continue
            required = parameter.default is inspect.Parameter.empty
            found[parameter.name] = Parameter(
                parameter.name,
                _annotation_text(parameter.annotation),
                None if required else parameter.default,
                docs.get(parameter.name, ""),
                required,
            )
    return [found[n] for n in names if n in found]


def _kind(target: Any) -> str:
    from hookwise.callback import Callback

    if inspect.ismodule(target):
        return "a module of @hookimpl functions"
    if inspect.isclass(target):
        return "a Callback subclass" if issubclass(target, Callback) else "a class"
    if inspect.isfunction(target):
        return "a factory function"
    return f"an object ({type(target).__name__})"


def describe(name: str) -> PluginDetails:
    """Import plugin ``name`` (as ``-p`` names it) and describe it; builds nothing.

    :raises PluginNotFoundError, PluginLoadError: as enabling it would.
    """
    from hookwise.listing import implemented_hooks
    from hookwise.plugins import PluginManager

    target, canonical, info = PluginManager().load_target(name)
    doc = inspect.getdoc(target) or ""
    details = PluginDetails(
        name=canonical,
        target=info.target if info is not None else name,
        distribution=info.distribution if info is not None else None,
        version=info.version if info is not None else None,
        kind=_kind(target),
        summary=_first_sentence(doc.split("\n\n")[0]) if doc else "",
    )
    hooks, errors, notes = implemented_hooks(target)
    details.hooks, details.notes = hooks, [*errors, *notes]
    if inspect.isclass(target) or inspect.isfunction(target):
        details.parameters = parameters_of(target)
    else:
        details.notes.append("takes no parameters (an object or module is enabled as it is)")
    return details


def render(details: PluginDetails) -> str:
    """The details as text."""
    origin = (
        f"{details.distribution} {details.version}"
        if details.distribution
        else "no distribution: by import path or file"
    )
    lines = [f"{details.name}  ({origin})", f"  target: {details.target}  ({details.kind})"]
    if details.summary:
        lines.append(f"  {details.summary}")
    rows = [(p.name, p.type, p.default_text, p.doc) for p in details.parameters]
    lines.append("Parameters:" if rows else "Parameters: none")
    widths = [max(len(r[i]) for r in rows) for i in range(3)] if rows else []
    for row in rows:
        cells = "  ".join(f"{row[i]:<{widths[i]}}" for i in range(3))
        lines.append(f"  {cells}  {row[3]}".rstrip())
    lines.append(f"  (any plugin also takes {', '.join(r[0] for r in RESERVED)}: hookwise's own)")
    hooks = details.hooks
    lines.append(f"Hooks: {', '.join(hooks) or '(none)'}" if hooks is not None else "Hooks: ?")
    lines += [f"  note: {note}" for note in details.notes]
    example = ",".join(f"{p.name}=..." for p in details.parameters if p.required)
    lines.append(f"Enable: hookwise fit -p {details.name}{':' + example if example else ''}")
    return "\n".join(lines)


__all__ = [
    "DOC_WIDTH",
    "RESERVED",
    "Parameter",
    "PluginDetails",
    "describe",
    "param_docs",
    "parameters_of",
    "render",
]
