"""Textual's parsed stylesheets, kept between runs in the user's cache folder.

Textual parses every stylesheet it meets at every start: the wizard's own (``wizard.tcss``) and the
``DEFAULT_CSS`` of each widget class, about 30 ms before the first frame (Button's alone ~8 ms), where
reading the same rules back takes a tenth of that. :func:`install` wraps ``Stylesheet._parse_rules``: an
entry is named by the SHA-256 of everything the parse depends on (the CSS text, where it was read from,
its flags, the theme's variables, the files of Textual's CSS parser), so an edited stylesheet, another
theme or another Textual is parsed afresh.

An entry is a pickle, and a pickle can name any code to run, so it is read as hostile bytes: only from a
regular file of this user that no one else could have written (:func:`dex_tui.localfiles.read_private`),
at most :data:`MAX_ENTRY` bytes, by an unpickler that builds only Textual's CSS model types (the classes
of the modules in :data:`ALLOWED_MODULES`, a selector's check functions, ``functools.partial``) and
refuses everything else, ``getattr`` included; what it builds must be a list of RuleSets. Rules with errors are never
kept, so Textual reports a broken stylesheet as it always does. Anything wrong with the cache (no home,
a read-only or foreign folder, a damaged or refused entry) means the CSS is parsed, silently: it is only
a cache.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import os
import pickle
from pathlib import Path
from typing import Any

import textual.css.model
import textual.css.parse
import textual.css.styles
import textual.css.stylesheet
from textual.css.model import _CHECKS, RuleSet
from textual.css.styles import Styles
from textual.css.stylesheet import Stylesheet
from textual.layout import Layout

from dex_tui.localfiles import private_folder, read_private, replace_whole
from dex_tui.user_dirs import user_dir

MAX_ENTRY = 1024 * 1024  # the largest entry, Button's rules, is ~23 KB
FOLDER = "css"
ALLOWED_MODULES = frozenset({"textual.css.model", "textual.css.styles", "textual.css.scalar",
                             "textual.css.types", "textual.css.constants", "textual.color",
                             "textual.geometry", "textual.layouts.grid", "textual.layouts.horizontal",
                             "textual.layouts.vertical", "textual.layouts.stream"})

_PARSER_FILES = (textual.css.parse.__file__, textual.css.model.__file__, textual.css.styles.__file__,
                 textual.css.stylesheet.__file__)
_SELECTOR_CHECKS = tuple(_CHECKS.values())  # the functions a selector's check is a partial of
_installed = False


class _RulesPickler(pickle.Pickler):
    """Styles keep two bound methods of their rules dict, which a plain pickle would rebuild with
    ``getattr``: written instead as the dataclass's own fields, so the unpickler needs no ``getattr``."""

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is Styles and obj.node is None:
            return Styles, (None, obj._rules, obj._updates, obj.important)
        return NotImplemented


class _RulesUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("functools", "partial"):
            return functools.partial
        if module in ALLOWED_MODULES and not name.startswith("__"):
            found = getattr(__import__(module, fromlist=[name]), name, None)
            if isinstance(found, type) and found.__module__ == module:
                return found
            if module == "textual.css.model" and found in _SELECTOR_CHECKS:
                return found
        raise pickle.UnpicklingError(f"refused {module}.{name}")


@functools.cache
def _build() -> str:
    """This Textual's CSS parser, named by its files' sizes and times: ``textual.__version__`` would
    read the installed packages' metadata (~10 ms), and another Textual, or a patched one, has other files."""
    stats = [os.stat(path) for path in _PARSER_FILES if path]
    return hashlib.sha256(repr([(st.st_size, st.st_mtime_ns) for st in stats]).encode()).hexdigest()[:12]


_variables_digests: dict[int, tuple[dict[str, str], str]] = {}


def _variables_digest(variables: dict[str, str]) -> str:
    """The theme's variables, hashed once per dict (a stylesheet is given a new dict when they change)."""
    known = _variables_digests.get(id(variables))
    if known is None or known[0] is not variables:
        known = (variables, hashlib.sha256(repr(sorted(variables.items())).encode("utf-8", "surrogatepass")).hexdigest())
        _variables_digests[id(variables)] = known
    return known[1]


def _name(stylesheet: Stylesheet, key: tuple[Any, ...]) -> str | None:
    variables = getattr(stylesheet, "_variables", None)
    if not isinstance(variables, dict):
        return None
    digest = hashlib.sha256(repr((key, _variables_digest(variables))).encode("utf-8", "surrogatepass"))
    return f"{_build()}-{digest.hexdigest()[:40]}.pickle"


def _load(path: Path) -> list[RuleSet] | None:
    try:
        raw = read_private(path, MAX_ENTRY)
        if raw is None:
            return None
        rules = _RulesUnpickler(io.BytesIO(raw)).load()
    except Exception:  # noqa: BLE001 - a damaged, foreign or refused entry: parse instead
        return None
    if isinstance(rules, list) and all(isinstance(rule, RuleSet) and not rule.errors for rule in rules):
        return rules
    return None


def _comparable(value: object) -> object:
    """A style's value as compared: a layout is equal only to itself, so it is compared by its kind."""
    return f"layout {type(value).__name__}" if isinstance(value, Layout) else value


def _fingerprint(rules: list[RuleSet]) -> list[tuple[Any, ...]]:
    """What a list of rules means, comparable across copies (a selector's check, a partial, is equal only
    to itself: the selectors are compared as text)."""
    return [(rule.selectors, {name: _comparable(value) for name, value in rule.styles._rules.items()},
             sorted(rule.styles.important), rule.is_default_rules, rule.tie_breaker, sorted(rule.selector_names),
             sorted(rule.pseudo_classes), [selectors.specificity for selectors in rule.selector_set])
            for rule in rules]


def _store(folder: Path, file_name: str, rules: list[RuleSet]) -> None:
    try:
        buffer = io.BytesIO()
        _RulesPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(rules)
        data = buffer.getvalue()
        if len(data) > MAX_ENTRY or _fingerprint(_RulesUnpickler(io.BytesIO(data)).load()) != _fingerprint(rules):
            return  # too big, or something the unpickler refuses or does not rebuild the same
        folder, _ = private_folder(folder.parent, folder.name)
        replace_whole(folder / file_name, data)
        _prune(folder)
    except Exception:  # noqa: BLE001 - no writable folder, an unpicklable rule: only a cache
        return


def _prune(folder: Path) -> None:
    """Entries of another Textual are of no further use: removed as a new entry is written."""
    prefix = f"{_build()}-"
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.endswith(".pickle") and not entry.name.startswith(prefix):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def cached(parse: Any) -> Any:
    """``Stylesheet._parse_rules`` (``parse``) going through the cache."""

    def parse_rules(self: Stylesheet, css: str, read_from: Any, is_default_rules: bool = False,
                    tie_breaker: int = 0, scope: str = "") -> list[RuleSet]:
        key = (css, read_from, is_default_rules, tie_breaker, scope)
        memory = getattr(self, "_parse_cache", None)
        if memory is not None and key in memory:  # parsed or read already by this stylesheet
            return parse(self, css, read_from, is_default_rules, tie_breaker, scope)  # type: ignore[no-any-return]
        file_name = _name(self, key)
        folder = user_dir("cache") / FOLDER
        if file_name is not None:
            rules = _load(folder / file_name)
            if rules is not None:
                if memory is not None:
                    memory[key] = rules
                return rules
        rules = parse(self, css, read_from, is_default_rules, tie_breaker, scope)
        if file_name is not None and not any(rule.errors for rule in rules):
            _store(folder, file_name, rules)
        return rules  # type: ignore[no-any-return]

    return parse_rules


def install() -> None:
    """From now on, Textual's stylesheets are parsed through the cache (once per process)."""
    global _installed
    if _installed:
        return
    _installed = True
    Stylesheet._parse_rules = cached(Stylesheet._parse_rules)  # type: ignore[method-assign]
