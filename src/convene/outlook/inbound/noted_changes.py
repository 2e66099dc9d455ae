"""Changes Microsoft told Convene about, kept until a worker has reconciled them.

The webhook must answer within Graph's 3 seconds under hundreds of notifications a second,
and a busy event is notified many times over. So the webhook only *notes* each changed event
(``note``: one row, written before the 202, so nothing accepted is lost) and makes sure one
task per mailbox is queued (``ChangeInbox.queued_at``, the same claim-then-enqueue pattern as
outbound sync). That task (``reconcile_noted``) claims every noted change of the mailbox and
reads each changed event once, however many notifications named it.

- An event already noted and not yet claimed is not noted again: the queued task will read it
  after this notification's change, so the request writes nothing at all.
- A worker that dies mid-way leaves its claims to expire; ``sweep`` (periodic) queues every
  mailbox with unclaimed or expired changes whose task is missing, as it does for sync.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from convene.outlook import leases
from convene.outlook.inbound import reconcile
from convene.outlook.microsoft.errors import MicrosoftError, Transient
from convene.outlook.models import ChangeInbox, LogKind, NotedChange, record
from convene.outlook.outbound import queueing

log = logging.getLogger(__name__)

EnqueueMailbox = Callable[[str, float], None]
"""Queue ``reconcile_noted`` of one mailbox, that many seconds from now."""

# A changed event that could not be read now (being pushed, Graph busy) is tried again this
# much later.
AGAIN_SECONDS = 2.0


def note(mailbox: str, graph_ids: Iterable[str], enqueue: EnqueueMailbox) -> None:
    """Record that these events of ``mailbox`` changed, and see that a task will read them.

    Raises when the change cannot be recorded (the database is down): the webhook then asks
    Graph to deliver again. A queue that is down is not an error: the sweep queues it later.
    """
    wanted = list(dict.fromkeys(graph_ids))
    waiting = set(
        NotedChange.objects.filter(mailbox=mailbox, graph_id__in=wanted, claimed_by="").values_list(
            "graph_id", flat=True
        )
    )
    new = [graph_id for graph_id in wanted if graph_id not in waiting]
    if not new:
        return  # whoever noted them queued the task that will read them
    NotedChange.objects.bulk_create([NotedChange(mailbox=mailbox, graph_id=g) for g in new])
    queue(mailbox, enqueue, delay=settings.OUTLOOK_COALESCE_SECONDS)


def queue(mailbox: str, enqueue: EnqueueMailbox, *, delay: float) -> bool:
    """Queue the mailbox's task unless one is queued already; True if this call queued it."""
    now = timezone.now()
    stale = now - leases.queue_patience()
    inbox = ChangeInbox.objects.filter(mailbox=mailbox).only("queued_at").first()
    if inbox is not None and inbox.queued_at is not None and inbox.queued_at >= stale:
        return False  # read only: a busy webhook mostly ends here without writing
    if inbox is None:
        # Another request may have created it a moment ago.
        ChangeInbox.objects.bulk_create([ChangeInbox(mailbox=mailbox)], ignore_conflicts=True)
    claimed = (
        ChangeInbox.objects.filter(mailbox=mailbox)
        .filter(Q(queued_at__isnull=True) | Q(queued_at__lt=stale))
        .update(queued_at=now)
    )
    if not claimed:
        return False
    try:
        enqueue(mailbox, delay)
    except Exception:
        # The changes are recorded: the sweep queues them once the queue is back.
        log.warning("Could not queue reading the changes of %s; the sweep will", mailbox)
        ChangeInbox.objects.filter(mailbox=mailbox).update(queued_at=None)
    return True


def reconcile_noted(mailbox: str, enqueue_sync: queueing.Enqueue, enqueue: EnqueueMailbox) -> int:
    """Read every noted change of ``mailbox`` once; returns how many events were reconciled."""
    # First: a notification noted from now on queues a new task, this one may miss it.
    ChangeInbox.objects.filter(mailbox=mailbox).update(queued_at=None)
    holder = uuid.uuid4().hex
    now = timezone.now()
    NotedChange.objects.filter(mailbox=mailbox).filter(
        Q(claimed_by="") | Q(claimed_until__lt=now)
    ).update(claimed_by=holder, claimed_until=now + leases.length())
    mine = NotedChange.objects.filter(claimed_by=holder)
    graph_ids = sorted(set(mine.values_list("graph_id", flat=True)))
    again: list[str] = []
    wait = [AGAIN_SECONDS]  # longer when Microsoft said so (Retry-After)
    # The claim lives while this worker reads; a worker killed mid-read gives it up within
    # one lease, and the sweep hands the changes to another.
    with leases.kept(lambda to: mine.update(claimed_until=to)):
        for graph_id in graph_ids:
            if _reconcile_one(mailbox, graph_id, enqueue_sync, wait):
                mine.filter(graph_id=graph_id).delete()
            else:
                again.append(graph_id)
    if again:
        mine.filter(graph_id__in=again).update(claimed_by="", claimed_until=None)
        queue(mailbox, enqueue, delay=max(wait))
    return len(graph_ids) - len(again)


def _reconcile_one(
    mailbox: str, graph_id: str, enqueue_sync: queueing.Enqueue, wait: list[float]
) -> bool:
    """True when done with it (reconciled, or failed in a way retrying does not fix); a
    transient failure's Retry-After is added to ``wait``."""
    try:
        return reconcile.reconcile(mailbox, graph_id, enqueue_sync)
    except Transient as exc:
        log.info("Reading %s's event again later: %s", mailbox, exc)
        if exc.retry_after is not None:
            wait.append(exc.retry_after)
        return False
    except MicrosoftError as exc:
        # Lost authorization, access denied: the sync engine shows and handles those.
        record(
            LogKind.NOTIFICATION,
            "read_failed",
            status=type(exc).__name__,
            message=str(exc),
            mailbox=mailbox,
        )
        return True
    except Exception as exc:
        # A fault of one event (a bug, data Convene cannot handle) must not fail the others
        # of the batch nor hold their claims until they expire; the delta read looks at this
        # event again.
        log.exception("Reconciling an event of %s failed", mailbox)
        record(
            LogKind.NOTIFICATION,
            "read_failed",
            status=type(exc).__name__,
            message=f"Reading this change failed ({type(exc).__name__}); see the worker's log.",
            mailbox=mailbox,
        )
        return True


def sweep(enqueue: EnqueueMailbox) -> int:
    """Queue every mailbox with changes no live task is reading; returns how many."""
    now = timezone.now()
    mailboxes = (
        NotedChange.objects.filter(Q(claimed_by="") | Q(claimed_until__lt=now))
        .values_list("mailbox", flat=True)
        .distinct()
    )
    return sum(queue(mailbox, enqueue, delay=0) for mailbox in sorted(set(mailboxes)))
