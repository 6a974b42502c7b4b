"""The console's languages (issue 17 item 6): Slovenian and English, from gettext catalogues.

The catalogues are ``pathway/console/locale/{sl,en}/LC_MESSAGES/console.po`` (the ``console``
domain; msgids are the English texts). They are read and compiled in memory with Babel when a
language is first used (:func:`translations`; a few milliseconds), so nothing is built at
install time and no ``.mo`` file can go stale. ``scripts/console_messages.py`` extracts the
marked texts (:func:`pathway.console.messages.extract_messages`: the templates' ``{% trans %}``
and ``_()``, the console's Python code's :func:`N_`, the recording forms' words) and updates
both catalogues.

Which language a page is in (:func:`negotiate`): the language the browser chose with the
console's switch (the cookie :data:`LANGUAGE_COOKIE`, ``sl`` or ``en``: no personal data), else
the first of the browser's ``Accept-Language`` that the console speaks (by ``q``), else
:data:`FALLBACK`: English, the language a visitor who asks for neither most likely reads.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from typing import Final

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

__all__ = [
    "DOMAIN",
    "FALLBACK",
    "LANGUAGES",
    "LANGUAGE_COOKIE",
    "LOCALE_DIR",
    "N_",
    "catalogue_path",
    "negotiate",
    "translations",
]

#: The languages the console speaks, with their names in themselves (the switch shows these).
LANGUAGES: Final = {"sl": "Slovenščina", "en": "English"}
#: For a browser that asks for none of :data:`LANGUAGES`.
FALLBACK: Final = "en"
#: The switch's choice: ``sl`` or ``en``, for a year, path ``/console``.
LANGUAGE_COOKIE: Final = "pathway_console_lang"
DOMAIN: Final = "console"
LOCALE_DIR: Final = Path(__file__).parent / "locale"


def N_(message: str) -> str:  # noqa: N802 (gettext's name for it)
    """Marks ``message`` for the catalogues where it is written; the page translates it when
    it shows it (the template's ``tr`` filter). Returns ``message`` unchanged."""
    return message


def catalogue_path(language: str) -> Path:
    """``locale/<language>/LC_MESSAGES/console.po``."""
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(language: str) -> Translations:
    """The compiled catalogue of ``language`` (a key of :data:`LANGUAGES`; KeyError else).
    Fuzzy entries are left out, as ``msgfmt`` leaves them out."""
    if language not in LANGUAGES:
        raise KeyError(language)
    with catalogue_path(language).open("rb") as po:
        catalog = read_po(po, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def _preferences(accept_language: str) -> list[str]:
    """The primary language tags of an ``Accept-Language`` header, most wanted first (by
    ``q``, then by order; ``q=0`` and malformed ``q`` left out)."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        tag, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, position, tag.split("-")[0].lower()))
    return [tag for _q, _p, tag in sorted(ranked)]


def negotiate(accept_language: str | None, chosen: str | None) -> str:
    """The page's language: ``chosen`` (the switch's cookie) if the console speaks it, else
    the browser's most wanted language the console speaks, else :data:`FALLBACK`."""
    if chosen is not None and chosen in LANGUAGES:
        return chosen
    for tag in _preferences(accept_language or ""):
        if tag in LANGUAGES:
            return tag
    return FALLBACK
