"""Update the console's catalogues from its templates and code: ``python
scripts/console_messages.py``.

Extracts every marked text (:func:`pathway.console.i18n.extract_messages`) and merges it into
``pathway/console/locale/{sl,en}/LC_MESSAGES/console.po`` (Babel's ``update``: kept
translations stay, a changed text becomes fuzzy, a removed one obsolete and dropped). The
English catalogue translates each text as itself; a new Slovenian entry is empty until someone
translates it (tests/test_console_i18n.py fails while one is)."""

from __future__ import annotations

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from pathway.console.i18n import DOMAIN, LANGUAGES, catalogue_path
from pathway.console.messages import extract_messages


def update(language: str, template: Catalog) -> int:
    """Merge ``template`` into ``language``'s catalogue; the number of untranslated entries."""
    path = catalogue_path(language)
    if path.exists():
        with path.open("rb") as po:
            catalog = read_po(po, locale=language, domain=DOMAIN)
    else:
        catalog = Catalog(locale=language, domain=DOMAIN, project="Pathway console")
    created = catalog.creation_date
    catalog.update(template, no_fuzzy_matching=True)
    catalog.creation_date = created  # unchanged texts, unchanged file
    catalog.obsolete.clear()
    if language == "en":
        for message in catalog:
            if message.id:
                message.string = message.id
                message.flags.discard("fuzzy")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as po:
        write_po(
            po, catalog, width=100, sort_output=True, include_previous=False, include_lineno=False
        )
    return sum(1 for m in catalog if m.id and (not m.string or m.fuzzy))


def main() -> None:
    template = extract_messages()
    for language in LANGUAGES:
        print(f"{catalogue_path(language)}: {update(language, template)} to translate")


if __name__ == "__main__":
    main()
