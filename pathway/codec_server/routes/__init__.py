"""The codec server's routes, one router per concern: :mod:`.codec` (``/decode``,
``/encode``), :mod:`.login` (``/login``, ``/logout``: the web UI's session cookie) and
:mod:`.health` (``/healthz``)."""
