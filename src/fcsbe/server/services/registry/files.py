"""Reading registry files (YAML or JSON) and saying precisely where a problem is.

A CSO engineer fixing a file of a thousand stations needs the file, the line, the entry and the
field: `stations.yaml:57: charging station 'CS-3' > EVSE 'NL*ABC*E3*1': max_discharge_power_w:
...`. So YAML is composed node by node to map every JSON pointer to its line, and both formats
refuse a key given twice in one mapping (YAML and JSON parsers would silently keep the last).
YAML booleans follow YAML 1.2 (`true`/`false` only), so a country code `NO` stays a string.

This module parses text and formats messages; it reads no files (the command line does).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from fcsbe.server.services.registry.rules import RegistryIssue

__all__ = ["RegistrySource", "describe_entry", "format_issue", "parse_text"]


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans (`yes`, `no`, `on`, `off` stay strings)."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


@dataclass
class RegistrySource:
    """A parsed file: its data, the line of every pointer (YAML), and problems of the text."""

    name: str
    data: Any = None
    lines: dict[str, int] = field(default_factory=dict)
    issues: list[RegistryIssue] = field(default_factory=list)

    def line_of(self, pointer: str) -> int | None:
        """Line of the value at `pointer`, or of its nearest ancestor that has one."""
        while True:
            if pointer in self.lines:
                return self.lines[pointer]
            if not pointer:
                return None
            pointer = pointer.rsplit("/", 1)[0]


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def _walk(node: yaml.Node, pointer: str, source: RegistrySource) -> None:
    source.lines.setdefault(pointer, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = f"{pointer}/{_escape(key)}"
            if key in seen:
                source.issues.append(
                    RegistryIssue(
                        child, f"key {key!r} is given twice in this mapping", "duplicate_key"
                    )
                )
            seen.add(key)
            source.lines[child] = key_node.start_mark.line + 1
            _walk(value_node, child, source)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, f"{pointer}/{index}", source)


def _parse_yaml(source: RegistrySource, text: str) -> None:
    try:
        root = yaml.compose(text, Loader=_Loader)
        source.data = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            source.lines[""] = mark.line + 1
        problem = getattr(exc, "problem", None) or str(exc)
        source.issues.append(RegistryIssue("", f"not valid YAML: {problem}", "syntax"))
        return
    if root is not None:
        _walk(root, "", source)


def _parse_json(source: RegistrySource, text: str) -> None:
    repeated: list[RegistryIssue] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in items]
        for key in sorted({k for k in keys if keys.count(k) > 1}):
            repeated.append(
                RegistryIssue(
                    f"/{_escape(key)}", f"key {key!r} is given twice in an object", "duplicate_key"
                )
            )
        return dict(items)

    try:
        source.data = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        source.lines[""] = exc.lineno
        source.issues.append(RegistryIssue("", f"not valid JSON: {exc.msg}", "syntax"))
        return
    # JSON is (nearly) YAML: composing it again gives the line of every pointer, and full
    # pointers for repeated keys. Where the YAML reader disagrees, keep the JSON findings.
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        root = None
    if root is None:
        source.issues.extend(repeated)
        return
    _walk(root, "", source)


def parse_text(text: str, name: str) -> RegistrySource:
    """Parse a registry file's text; JSON when the name ends in `.json`, YAML otherwise."""
    source = RegistrySource(name=name)
    if name.lower().endswith(".json"):
        _parse_json(source, text)
    else:
        _parse_yaml(source, text)
    return source


_KINDS = {"sites": ("site", "site_id"), "charging_stations": ("charging station", "cs_id")}
_KINDS["ev_models"] = ("EV model", "ev_model_id")


def _entry_id(entry: Any, key: str) -> str | None:
    value = entry.get(key) if isinstance(entry, dict) else None
    return value if isinstance(value, str) else None


def describe_entry(data: Any, pointer: str) -> tuple[str, str]:
    """(entry, field) of a pointer: `charging station 'CS-3' > EVSE 'E1'`, `phases`."""
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
    if len(parts) < 2 or parts[0] not in _KINDS or not parts[1].isdigit():
        return "document", ".".join(parts) or "(root)"
    kind, key = _KINDS[parts[0]]
    entries = data.get(parts[0]) if isinstance(data, dict) else None
    entry = (
        entries[int(parts[1])]
        if isinstance(entries, list) and int(parts[1]) < len(entries)
        else None
    )
    ident = _entry_id(entry, key)
    label = f"{kind} {ident!r}" if ident else f"{parts[0]}[{parts[1]}]"
    rest = parts[2:]
    if (
        parts[0] == "charging_stations"
        and len(rest) >= 2
        and rest[0] == "evses"
        and rest[1].isdigit()
    ):
        evses = entry.get("evses") if isinstance(entry, dict) else None
        evse = (
            evses[int(rest[1])] if isinstance(evses, list) and int(rest[1]) < len(evses) else None
        )
        evse_id = _entry_id(evse, "evse_id")
        label += f" > EVSE {evse_id!r}" if evse_id else f" > evses[{rest[1]}]"
        rest = rest[2:]
    field_path = ""
    for part in rest:
        field_path += f"[{part}]" if part.isdigit() else (f".{part}" if field_path else part)
    return label, field_path or "(entry)"


def format_issue(source: RegistrySource, issue: RegistryIssue) -> str:
    """One human line: `file:line: entry: field: detail`."""
    line = source.line_of(issue.pointer)
    where = f"{source.name}:{line}" if line is not None else source.name
    entry, field_path = describe_entry(source.data, issue.pointer)
    return f"{where}: {entry}: {field_path}: {issue.detail}"
