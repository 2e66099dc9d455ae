"""Running the Outlook integration: the figures it exports on /metrics (``metrics``), the
conditions admins are alerted to (``alerts``), its self-repair (``keepalive``,
``daily_reconcile``; the delta read restarts itself, ``inbound.delta``) and what retention
prunes (``retention``). Registered with the base in ``OutlookConfig.ready``."""
