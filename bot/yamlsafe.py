"""Safe YAML loading: yaml-rs when installed, PyYAML (libyaml's C loader if built) behind it.

Both back ends are held to the same rules so that they give the same articles:
duplicate keys are an error, only `true`/`false` are booleans (YAML 1.2), and alias
expansion is capped so a billion-laughs document is refused instead of exhausting memory.
"""

from __future__ import annotations

import contextlib
import importlib
import re
from collections.abc import Callable
from types import ModuleType
from typing import Any

import yaml

yaml_rs: ModuleType | None = None
with contextlib.suppress(ImportError):  # pragma: no cover - needs the platform's wheel
    yaml_rs = importlib.import_module("yaml_rs")

# The same ceiling yaml-rs applies by default: at most this many nodes after expanding aliases.
MAX_EXPANDED_NODES = 1_000_000

BACKENDS = ("yaml-rs", "pyyaml")


class YamlError(ValueError):
    """The text is not YAML that we are willing to load, and where, when the parser says.

    Positions are 1-based (line, column) within the YAML text, columns counted in
    characters, as both back ends count them; `describe` moves them to the file's lines.
    """

    def __init__(
        self, problem: str, at: tuple[int, int] | None = None,
        context: str | None = None, context_at: tuple[int, int] | None = None,
    ):
        super().__init__(problem)
        self.problem = problem
        self.at = at
        self.context = context
        self.context_at = context_at

    def describe(self, first_line: int = 1) -> str:
        """One line, with positions as an editor shows them when the YAML starts on the
        file's line `first_line`."""
        def where(at: tuple[int, int]) -> str:
            return f"line {at[0] + first_line - 1}, column {at[1]}"

        text = f"at {where(self.at)}: {self.problem}" if self.at else self.problem
        if self.context and self.context_at and self.context_at != self.at:
            return f"{text} ({self.context} at {where(self.context_at)})"
        return f"{text} ({self.context})" if self.context else text

    def __str__(self) -> str:
        return self.describe()


# Any: the C loader and the Python one share no base class in the type stubs.
_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictSafeLoader(_BaseLoader):
    """PyYAML's safe loader with YAML 1.2 booleans and duplicate keys refused."""


# YAML 1.1 reads yes/no/on/off as booleans, YAML 1.2 (and yaml-rs) as strings.
_StrictSafeLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}
_StrictSafeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in mapping
        except TypeError as exc:  # an unhashable key such as a list
            raise YamlError("a mapping key is not a plain value") from exc
        if duplicate:
            raise YamlError(f"duplicate mapping key: {key!r}")
        mapping[key] = loader.construct_object(value_node, deep=True)
    return mapping


_StrictSafeLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


def _construct_timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    # `2022-13-45` looks like a timestamp but is no date: keep the text, as yaml-rs does,
    # so an odd date is a warning on one field instead of a failed file.
    try:
        return loader.construct_yaml_timestamp(node)
    except (ValueError, OverflowError):
        return loader.construct_scalar(node)


_StrictSafeLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def _expanded_size(node: yaml.Node) -> int:
    """Node count with every alias expanded, computed without expanding anything."""
    sizes: dict[int, int] = {}

    def size(current: yaml.Node) -> int:
        known = sizes.get(id(current))
        if known is not None:
            return known
        sizes[id(current)] = 1  # a recursive alias counts once instead of looping
        if isinstance(current, yaml.SequenceNode):
            total = 1 + sum(size(child) for child in current.value)
        elif isinstance(current, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in current.value)
        else:
            total = 1
        sizes[id(current)] = total
        return total

    return size(node)


def load_pyyaml(text: str) -> Any:
    """Load with PyYAML under the shared rules."""
    loader = _StrictSafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        # Only documents that use anchors can expand; the check costs a walk, so skip it otherwise.
        if "&" in text and _expanded_size(node) > MAX_EXPANDED_NODES:
            raise YamlError("aliases expand to more than a million nodes")
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise _pyyaml_error(exc) from exc
    except yaml.YAMLError as exc:
        raise YamlError(_first_line(exc)) from exc
    except RecursionError as exc:
        raise YamlError("nesting is too deep") from exc
    finally:
        loader.dispose()


def _pyyaml_error(exc: yaml.MarkedYAMLError) -> YamlError:
    """PyYAML's problem and context, each at its mark (0-based there)."""
    def at(mark: yaml.Mark | None) -> tuple[int, int] | None:
        return (mark.line + 1, mark.column + 1) if mark is not None else None

    problem = exc.problem or exc.context or type(exc).__name__
    context = exc.context if exc.problem else None
    return YamlError(problem, at(exc.problem_mark), context, at(exc.context_mark))


def load_yaml_rs(text: str) -> Any:
    """Load with yaml-rs, whose defaults already refuse duplicate keys and alias bombs."""
    if yaml_rs is None:
        raise RuntimeError("yaml-rs is not installed")
    try:
        return yaml_rs.loads(text)
    except yaml_rs.YAMLDecodeError as exc:
        raise _yaml_rs_error(exc) from exc
    except RecursionError as exc:
        raise YamlError("nesting is too deep") from exc


_GUTTER = re.compile(r"^\s*\d*\s*\|")
# yaml-rs starts a message that has a position with it, 1-based.
_YAML_RS_POSITION = re.compile(r"YAML parse error at line (\d+), column (\d+)\s*")


def _yaml_rs_error(exc: Exception) -> YamlError:
    """yaml-rs's message with its position taken out of the text."""
    message = str(exc)
    position = _YAML_RS_POSITION.match(message)
    if position is None:
        return YamlError(_first_line(exc))
    problem = _one_line(message[position.end():]) or "invalid YAML"
    return YamlError(problem, (int(position.group(1)), int(position.group(2))))


def _first_line(exc: Exception) -> str:
    """Parser messages can span lines with a source excerpt; a report wants one line."""
    return _one_line(str(exc)) or type(exc).__name__


def _one_line(message: str) -> str:
    """The first two lines of a message that are not a quote of the source, joined."""
    # yaml-rs quotes the source under a `|` gutter (`2 | text`, `  |  ^`): not a reason.
    lines = [line.strip() for line in message.splitlines()
             if line.strip() and not _GUTTER.match(line)]
    return "; ".join(lines[:2])


def available_backend(preferred: str = "auto") -> str:
    """The back end to use: `preferred` if it is one, else yaml-rs when installed."""
    if preferred in BACKENDS:
        if preferred == "yaml-rs" and yaml_rs is None:
            raise RuntimeError("yaml-rs is not installed; pip install yaml-rs or use pyyaml")
        return preferred
    if preferred != "auto":
        raise ValueError(f"unknown YAML parser {preferred!r}; use auto, yaml-rs or pyyaml")
    return "yaml-rs" if yaml_rs is not None else "pyyaml"


def loader_for(backend: str) -> Callable[[str], Any]:
    """The load function of a back end name from `BACKENDS`."""
    return load_yaml_rs if backend == "yaml-rs" else load_pyyaml

