"""Plain help text: option values named like `HOST` and `FSC_ID`, no `<bool>` or `<str>`.

Typer shows each parameter's Python type (`<str>`, `<bool>`, `{fsc_id}` for a required
argument), which tells an operator nothing: the help names the value instead, the way Unix
tools do, and a flag shows no value at all.
"""

from __future__ import annotations

import typer.core
from typer.main import get_command

__all__ = ["name_values"]


class _NamedArgument(typer.core.TyperArgument):
    """An argument shown by its metavar alone in the usage line (`FSC_ID`, `[REVISION]`)."""

    def _usage_display_name(self) -> str:
        name = self.display_name_raw
        if self.nargs != 1:
            name += "..."
        return name if self.required else f"[{name}]"

    def display_type_rich(self, ctx: object) -> str | None:
        return None  # the name column already says what the value is


def _choices(param: object) -> tuple[object, ...]:
    """The values an option accepts, if it lists them (typer >= 0.2x describes the type in
    `type_descriptor`, older ones in click's `type`)."""
    for holder in (getattr(param, "type_descriptor", None), getattr(param, "type", None)):
        choices = getattr(holder, "choices", None)
        if choices:
            return tuple(choices)
    return ()


def _name_values(command: object) -> None:
    params = list(getattr(command, "params", ()))
    if isinstance(command, typer.core.TyperCommand | typer.core.TyperGroup):
        help_option = command.get_help_option(typer.Context(command))  # made once, then cached
        if help_option is not None:
            params.append(help_option)
    for param in params:
        name = (param.name or "value").upper()
        if isinstance(param, typer.core.TyperArgument):
            param.metavar = name
            param.__class__ = _NamedArgument
        elif isinstance(param, typer.core.TyperOption):
            if param.is_flag or param.count:
                param.metavar = ""
            elif choices := _choices(param):
                param.metavar = "|".join(str(choice) for choice in choices)
            else:
                param.metavar = name
    for sub in getattr(command, "commands", {}).values():
        _name_values(sub)


def name_values(app: typer.Typer) -> typer.core.TyperGroup:
    """The click command of `app`, every value named for people."""
    command = get_command(app)
    _name_values(command)
    assert isinstance(command, typer.core.TyperGroup)
    return command
