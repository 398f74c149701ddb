"""``patron … --help`` in the user's language.

The English help stays where it is written — a command's docstring, the ``help=`` of an option or argument, the
``help=`` of a ``typer.Typer`` group — and is what the catalogues translate. Each text has an entry named by its
command path: ``cli.help`` (``patron`` itself), ``cli.help.loyalty.rewards`` (a group), ``cli.help.metrics`` (a
command), ``cli.help.metrics.by`` (its ``--by``, by parameter name). An option that many commands share with the
same words (``--workspace``, ``--lang``, ``--json``) has one entry, ``cli.help_shared.<parameter name>``, used by
every parameter of that name whose English is the same; a parameter with its own entry uses that.

The ``en`` entry repeats the English of the code (line breaks aside). A translation is shown only while it
translates the English the code has now: help changed in the code shows in English until the catalogues follow,
never as an outdated translation (``tests/test_cli_help.py`` fails meanwhile). Typer's own words — Usage, Options,
Arguments, Commands, [default: …], [required], Show this message and exit. — are ``cli.help_chrome.*``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar
from weakref import WeakKeyDictionary

from rich.markup import escape
from typer import core as typer_core
from typer import rich_utils
from typer._click.core import Command, Context, Parameter

from patron.core.i18n import FALLBACK_LOCALE, catalog, normalize_locale

#: Entries are these prefixes followed by a command path (``cli.help.`` + ``metrics.by``; ``cli.help`` for the root).
PREFIX = "cli.help."
SHORT_PREFIX = "cli.short_help."
SHARED_PREFIX = "cli.help_shared."
CHROME_PREFIX = "cli.help_chrome."

#: Typer's words in ``typer.rich_utils`` and the entries translating them (``{value}`` for Typer's ``{}``).
_RICH_WORDS = {
    "ARGUMENTS_PANEL_TITLE": "arguments",
    "OPTIONS_PANEL_TITLE": "options",
    "COMMANDS_PANEL_TITLE": "commands",
    "DEFAULT_STRING": "default",
    "ENVVAR_STRING": "env_var",
    "REQUIRED_LONG_STRING": "required",
    "DEPRECATED_STRING": "deprecated",
}
#: Typer's English, as far as this version of Typer has the words (one that renamed them leaves them in English).
_ENGLISH_RICH_WORDS: dict[str, str] = {
    name: english for name in _RICH_WORDS if isinstance(english := getattr(rich_utils, name, None), str)
}
_ENGLISH_HIGHLIGHTER = getattr(rich_utils, "highlighter", None)
#: Placeholders of the usage line, as Click writes them, and their entries.
_METAVARS = {"options_metavar": ("[OPTIONS]", "options_metavar"), "subcommand_metavar": ("COMMAND [ARGS]...", "command_metavar")}  # fmt: skip

#: Click's prefix of the usage line and the help of its --help.
_USAGE, _HELP_OPTION = "Usage: ", "Show this message and exit."
#: What the code wrote, kept the first time an object is read, so a tree can be put in another language again.
_ENGLISH: WeakKeyDictionary[object, dict[str, Any]] = WeakKeyDictionary()


def _english(target: object, attribute: str) -> Any:
    return _ENGLISH.setdefault(target, {}).setdefault(attribute, getattr(target, attribute, None))


def normal(text: str) -> str:
    """A help text as the catalogue keeps it: paragraphs apart by a blank line, each on one line."""
    paragraphs = re.split(r"\n\s*\n", text.strip())
    return "\n\n".join(" ".join(paragraph.split()) for paragraph in paragraphs if paragraph.strip())


@dataclass(frozen=True)
class HelpText:
    """One help text of the command tree: where it is, its entries, and its English."""

    key: str
    #: The shared entry a parameter may use instead (``cli.help_shared.workspace``); None for commands.
    shared: str | None
    english: str
    target: Command | Parameter
    attribute: str
    #: Typer reads it as Rich markup: brackets are escaped, so "[default: …]" shows instead of vanishing.
    markup: bool


def _key(prefix: str, path: tuple[str, ...]) -> str:
    return prefix + ".".join(path) if path else prefix.rstrip(".")


def _reads_markup(command: Command) -> bool:
    return bool(typer_core.HAS_RICH) and getattr(command, "rich_markup_mode", None) == "rich"


def commands(root: Command, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Command]]:
    """Every command of the tree with its path of names (``()`` for the root), parents first."""
    yield path, root
    if isinstance(root, typer_core.TyperGroup):
        for name, command in root.commands.items():
            yield from commands(command, (*path, name))


def help_texts(root: Command) -> Iterator[HelpText]:
    """Every help text of the tree — commands, groups, options and arguments — in its English."""
    for path, command in commands(root):
        markup = _reads_markup(command)
        for attribute, prefix in (("help", PREFIX), ("short_help", SHORT_PREFIX)):
            text = _english(command, attribute)
            if text:
                yield HelpText(_key(prefix, path), None, normal(text), command, attribute, markup)
        for param in command.params:
            text = _english(param, "help")
            if text and param.name:
                key, shared = _key(PREFIX, (*path, param.name)), SHARED_PREFIX + param.name
                yield HelpText(key, shared, normal(text), param, "help", markup)


def translation(text: HelpText, locale: str) -> str | None:
    """``text`` in ``locale`` from its own entry, else the shared one; None when neither translates its English
    as the code words it now."""
    english, wanted = catalog(FALLBACK_LOCALE), catalog(locale)
    for key in filter(None, (text.key, text.shared)):
        if key in english and normal(english[key]) == text.english and wanted.get(key):
            return wanted[key]
    return None


def localize_help(root: Command, locale: str | None) -> None:
    """Put every help text of the tree, and Typer's words around them, in ``locale``: English where a text has
    no translation. Run again with another locale, it starts from the English."""
    chosen = normalize_locale(locale) or FALLBACK_LOCALE
    for text in list(help_texts(root)):
        shown = (translation(text, chosen) if chosen != FALLBACK_LOCALE else None) or _english(
            text.target, text.attribute
        )
        setattr(text.target, text.attribute, escape(shown) if text.markup else shown)
    for _path, command in commands(root):
        for attribute, (written, code) in _METAVARS.items():
            if hasattr(command, attribute) and _english(command, attribute) == written:
                setattr(command, attribute, _chrome(code, chosen, written))
        command.context_class = _context_class(chosen, _english(command, "context_class"))
    for name, english in _ENGLISH_RICH_WORDS.items():
        setattr(rich_utils, name, _chrome(_RICH_WORDS[name], chosen, english))
    usage = _chrome("usage", chosen, _USAGE)
    if _ENGLISH_HIGHLIGHTER is not None:
        rich_utils.highlighter = _ENGLISH_HIGHLIGHTER if usage == _USAGE else _highlighter(usage)


def _chrome(code: str, locale: str, english: str) -> str:
    """One of Typer's words in ``locale``; Typer's English when no catalogue has it. ``{value}`` becomes Typer's
    ``{}``."""
    if locale == FALLBACK_LOCALE:
        return english
    key = CHROME_PREFIX + code
    text = catalog(locale).get(key) or catalog(FALLBACK_LOCALE).get(key)
    return text.replace("{value}", "{}") if text else english


@cache
def _context_class(locale: str, base: type[Context]) -> type[Context]:
    """``base``, writing the usage line and the --help option's own help in ``locale``."""
    usage, help_option = _chrome("usage", locale, _USAGE), _chrome("help_option", locale, _HELP_OPTION)

    class Formatter(base.formatter_class):  # type: ignore[name-defined,misc]
        def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
            super().write_usage(prog, args, usage if prefix is None else prefix)

    class LocalizedContext(base):  # type: ignore[valid-type,misc]
        formatter_class = Formatter

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            option = self.command.get_help_option(self)
            if option is not None:
                option.help = help_option

    return LocalizedContext


@cache
def _highlighter(usage: str) -> rich_utils.OptionHighlighter:
    """Typer's highlighter, styling the usage line's prefix in another language as it styles 'Usage: '."""

    class UsageHighlighter(rich_utils.OptionHighlighter):
        highlights: ClassVar[list[str]] = [
            *rich_utils.OptionHighlighter.highlights,
            rf"(?P<usage>{re.escape(usage)})",
        ]

    return UsageHighlighter()
