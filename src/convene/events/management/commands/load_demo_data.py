from typing import Any

from django.core.management.base import BaseCommand

from convene.events import demo


class Command(BaseCommand):
    help = "Load demo people and upcoming events (safe to run again: nothing is duplicated)."

    def handle(self, *args: Any, **options: Any) -> None:
        new_people, new_events = demo.load()
        # The sign-ins are printed by `manage.py rundev` (make run), once, with the URLs.
        self.stdout.write(
            f"Demo data: {new_people} new people, {new_events} new events "
            f"(password for everyone: {demo.DEMO_PASSWORD})."
        )
