from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "convene.events"
    label = "events"
    verbose_name = "Events"

    def ready(self) -> None:
        from convene.core import extensions
        from convene.events import demo, metrics, series, waitlist, waitlist_metrics
        from convene.events.changes import event_change_recorded

        extensions.register_dev_setup("demo sign-ins", demo.dev_setup)
        extensions.register_metrics("events", metrics.collect)
        extensions.register_metrics("waitlist", waitlist_metrics.collect)
        event_change_recorded.connect(
            series.keep_series_consistent, dispatch_uid="events.series.consistent"
        )
        event_change_recorded.connect(
            waitlist.fill_freed_places, dispatch_uid="events.waitlist.fill"
        )
