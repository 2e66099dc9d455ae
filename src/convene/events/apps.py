from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "convene.events"
    label = "events"
    verbose_name = "Events"

    def ready(self) -> None:
        from convene.core import extensions
        from convene.events import demo

        extensions.register_dev_setup("demo sign-ins", demo.dev_setup)
