"""Which language minifw speaks: English or Chinese (简体中文).

The language comes from, in order: :func:`set_lang` (the CLI's ``--lang``), the
``MINIFW_LANG`` environment variable, then the locale variables ``LC_ALL``,
``LC_MESSAGES``, ``LANG`` and ``LANGUAGE`` (``LANG=zh_CN.UTF-8`` means Chinese).

Messages are translated with the standard library's :mod:`gettext` from the
catalogs in ``minifw/locale/<lang>/LC_MESSAGES/minifw.mo``; the ``.po`` sources
next to them are extracted and compiled with Babel (``pybabel``; see
``locale/README.md``), which is needed only to edit them, never at run time.

>>> normalize("zh_CN.UTF-8"), normalize("en_US"), normalize("C.UTF-8")
('zh', 'en', 'en')
"""

from __future__ import annotations

import gettext as _gettext
import os
from pathlib import Path

from minifw.errors import MinifwError

LANGS = ("en", "zh")
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "minifw"
_override: str | None = None
_catalogs: dict = {}


class LangError(MinifwError, ValueError):
    """A language minifw does not speak."""


def normalize(value: str, strict: bool = False) -> str:
    """``"zh"`` for any Chinese locale name (zh, zh_CN.UTF-8, zh-Hans...), ``"en"`` for English ones; other
    locales (C, POSIX, fr_FR...) fall back to English unless ``strict``, which refuses them."""
    v = (value or "").strip().lower().replace("-", "_")
    if v.startswith("zh") or v in ("cn", "chinese"):
        return "zh"
    if v.startswith("en") or not strict:
        return "en"
    raise LangError(f"unknown language {value!r}; minifw speaks {', '.join(LANGS)} (en: English, zh: 中文)")


def set_lang(lang: str | None) -> None:
    """Use ``lang`` from now on (``None``: back to the environment)."""
    global _override
    _override = None if lang is None else normalize(lang, strict=True)


def current() -> str:
    """The language in use now: ``"en"`` or ``"zh"``."""
    if _override:
        return _override
    if os.environ.get("MINIFW_LANG"):
        return normalize(os.environ["MINIFW_LANG"])
    for var in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        if os.environ.get(var):
            return normalize(os.environ[var].split(":")[0])
    return "en"


def _catalog(lang: str):
    if lang not in _catalogs:
        _catalogs[lang] = _gettext.translation(DOMAIN, localedir=str(LOCALE_DIR), languages=[lang], fallback=True)
    return _catalogs[lang]


def gettext(message: str, lang: str | None = None) -> str:
    """``message`` in ``lang`` (default: the current language); itself where no translation exists."""
    lang = current() if lang is None else normalize(lang)
    return message if lang == "en" else _catalog(lang).gettext(message)


_ = gettext


def N_(message: str) -> str:
    """Mark ``message`` for the catalog without translating it (gettext's ``gettext_noop``): for tables built at
    import time, whose texts are translated with :func:`gettext` when they are shown, in the language of then."""
    return message

__all__ = ["LANGS", "LangError", "normalize", "set_lang", "current", "gettext", "_", "N_"]
