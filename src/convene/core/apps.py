from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "convene.core"
    label = "core"
    verbose_name = "Convene"

    def ready(self) -> None:
        from convene.core import checks  # noqa: F401 - registers the start-up checks
