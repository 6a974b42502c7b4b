"""The texts the console shows, gathered for its catalogues (:mod:`pathway.console.i18n`):
what the templates and the console's code mark, and the words of the recording forms made from
the event models' JSON Schema. Used by ``scripts/console_messages.py`` and the catalogues'
tests; the pages never import it."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir

from pathway.console.forms import event_form, programme_form
from pathway.console.i18n import DOMAIN, N_
from pathway.domain.events import EVENT_TYPES
from pathway.domain.programmes import PROGRAMME_EVENT_TYPES

__all__ = ["LIBRARY_TEXTS", "extract_messages"]

#: Texts a form shows that a library words, not the console: pydantic's most frequent schema
#: error (shown at its input through ``tr``). Other schema errors stay as pydantic words them.
LIBRARY_TEXTS: Final = (N_("Field required"),)

#: Where the marked texts are: the templates (Jinja2's own extractor, ``{% trans %}`` and
#: ``_()``) and the console's Python code (``N_()``, ``_()``).
_METHODS: Final = [("templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")]


def extract_messages() -> Catalog:
    """Every text marked for translation in the console (templates and Python code), as a
    catalogue template (msgid -> the places it is written)."""
    template = Catalog(domain=DOMAIN, project="Pathway console", charset="utf-8")
    root = Path(__file__).parent
    for filename, lineno, message, comments, context in extract_from_dir(
        root, method_map=_METHODS, options_map={"templates/**.html": {"trimmed": "true"}}
    ):
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    for text, where in _form_words():
        template.add(text, None, [(where, 0)])
    return template


def _form_words() -> list[tuple[str, str]]:
    """The words of the recording forms made from the event models' JSON Schema (each with
    where it comes from): each event type's name and title (the model's description), each
    input's label and hint and each option's text, as the forms show them (``event_form.html``
    and ``event_types.html`` pass them through ``tr``)."""
    words: list[tuple[str, str]] = []
    forms = [event_form(t) for t in EVENT_TYPES]
    # The programme registers' forms (issue 17 item 5, pathway.console.programmes).
    forms += [programme_form(t) for t in PROGRAMME_EVENT_TYPES]
    for form in forms:
        event_type = form.event_type
        where = f"schema/{event_type}"
        words += [(event_type.replace("_", " "), where), (form.title, where)]
        for field in form.all_fields():
            words.append((field.label, where))
            if field.hint:
                words.append((field.hint, where))
            words.extend((text, where) for _value, text in field.options)
    return words
