"""A local Microsoft 365: the identity platform and the Graph v1.0 calendar API.

Modelled on moto: one package per area (``identity``, ``graph``, ``control``), an in-memory
backend, and a control API under ``/_emulator/``. Real ``msal`` and ``msgraph-sdk`` work
against it unchanged.
"""
