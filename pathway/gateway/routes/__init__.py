"""The gateway's routes, one router per resource: :mod:`.cases` (open a case, send an event,
read a case and its timeline), :mod:`.obligations` (an organisation's open obligations across
cases), :mod:`.health` (``/healthz``, ``/readyz``) and :mod:`.docs` (the offline ``/docs``
page)."""
