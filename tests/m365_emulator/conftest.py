"""Shared fixtures for tests of the Microsoft 365 emulator.

``emulator_server`` (session scope)
    One running emulator (``m365_emulator.server.RunningEmulator``) for the whole test session:
    API on https://127.0.0.1:<free port>, UI on http://127.0.0.1:<free port>, CA in a temporary
    directory.

``emulator`` (function scope)
    Resets the emulator and seeds ``m365_emulator.testing.STANDARD_SEED``, then returns an
    ``m365_emulator.testing.EmulatorHandle``:

    * ``authority``, ``graph_url`` (``.../v1.0``), ``ui_url``, ``ca_path``, ``backend``
    * ``client_id``, ``client_secret``, ``redirect_uri`` (``http://localhost/callback``),
      ``password`` (every seeded user's), ``platform_tenant_id``, ``customer_tenant_id``,
      ``service_mailbox`` (``events@convene-platform.test``)
    * ``http``: an ``httpx.Client`` that trusts the emulator's CA
    * ``token_for(upn, scopes=("Calendars.ReadWrite",))``: delegated token (password grant)
    * ``app_token(tenant_id=platform)``: app-only token (client credentials)
    * ``graph(method, "/me/events", token, **httpx_kwargs)``, ``control(method, "/faults", body)``
    * ``reset(seed=STANDARD_SEED)``, ``advance_clock(seconds)``, ``requests_session()`` (for MSAL)

    Other suites get the same fixtures with
    ``from m365_emulator.pytest_plugin import emulator, emulator_http, emulator_server``.

    The world: tenant ``convene-platform.test`` (``events@``, ``admin@`` - an administrator)
    where the multi-tenant app "Convene" is registered and admin-consented (delegated
    Calendars.ReadWrite + User.Read, application Calendars.ReadWrite, public client flows
    allowed); tenant ``contoso.test`` (``ada@``, ``grace@``, ``alan@``, ``admin@``) where the
    app is not consented yet (``token_for`` records the user's consent itself).
"""

from m365_emulator.pytest_plugin import emulator, emulator_http, emulator_server

__all__ = ["emulator", "emulator_http", "emulator_server"]
