from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class OutlookConfig(AppConfig):
    name = "convene.outlook"
    label = "outlook"
    verbose_name = "Microsoft Outlook"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save, pre_delete, pre_save

        from convene.accounts.models import User
        from convene.core import extensions
        from convene.events.changes import event_change_recorded
        from convene.outlook import emulator_setup
        from convene.outlook.inbound.subscriptions import forget_verified
        from convene.outlook.models import OutlookConnection, Subscription
        from convene.outlook.moves import handover, modeswitch  # noqa: F401 (their move rules)
        from convene.outlook.web import panels, views

        event_change_recorded.connect(_note_change, dispatch_uid="outlook.note_change")
        # The webhook remembers active subscriptions for a few seconds: any change forgets them.
        for changed in (post_save, post_delete):
            changed.connect(forget_verified, sender=Subscription, dispatch_uid="outlook.forget")
        pre_delete.connect(
            _connection_ending, sender=OutlookConnection, dispatch_uid="outlook.unsubscribe"
        )
        # An organizer deactivated (Users page or Django admin): park their events, tell admins.
        pre_save.connect(handover.user_saving, sender=User, dispatch_uid="outlook.user_saving")
        post_save.connect(_user_saved, sender=User, dispatch_uid="outlook.user_saved")
        extensions.register_calendar_integration("Microsoft Outlook", "outlook:settings")
        extensions.register_dev_setup("microsoft 365 emulator", emulator_setup.dev_setup)
        extensions.register_panel(
            extensions.PROFILE, "outlook/profile_panel.html", panels.profile_context
        )
        extensions.register_panel(
            extensions.EVENT_DETAIL, "outlook/event_panel.html", panels.event_context
        )
        extensions.register_panel(
            extensions.EVENT_DETAIL,
            "outlook/online_meeting_panel.html",
            panels.online_meeting_context,
        )
        extensions.register_panel(
            extensions.EVENT_DETAIL, "outlook/room_panel.html", panels.room_context
        )
        extensions.register_panel(
            extensions.EVENT_DETAIL, "outlook/my_free_busy.html", panels.my_free_busy_context
        )
        extensions.register_panel(
            extensions.EVENT_FORM, "outlook/form_free_busy.html", panels.form_free_busy_context
        )
        extensions.register_panel(
            extensions.EVENT_PEOPLE,
            "outlook/people_free_busy.html",
            panels.people_free_busy_context,
        )
        extensions.register_event_form_gate("outlook", views.connect_before_saving)
        extensions.register_event_form_note("outlook", views.saving_leads_to_microsoft)
        _register_operations()


def _register_operations() -> None:
    """Metrics, admin alerts, retention and the self-repair tasks (``outlook.operations``)."""
    from convene.core import extensions
    from convene.outlook.operations import alerts, metrics, retention
    from convene.outlook.operations import tasks as _periodic  # registers the periodic tasks

    del _periodic
    extensions.register_metrics("outlook", metrics.collect)
    extensions.register_alert_source("outlook", alerts.conditions)
    extensions.register_pruner("outlook.audit_log", retention.prune_audit_log)
    extensions.register_pruner("outlook.finished_jobs", retention.prune_finished_jobs)


def _note_change(sender: Any, change: Any, **kwargs: Any) -> None:
    from convene.outlook import tasks
    from convene.outlook.outbound import queueing

    queueing.note_change(change, tasks.enqueue_sync)


def _user_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    from convene.outlook import tasks
    from convene.outlook.moves import handover

    handover.user_saved(instance, created, tasks.enqueue_sync)


def _connection_ending(sender: Any, instance: Any, **kwargs: Any) -> None:
    # Delete the person's change subscriptions while their authorization still works.
    from convene.outlook.inbound import subscriptions

    subscriptions.forget_connection(instance)
