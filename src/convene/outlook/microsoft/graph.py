"""The Microsoft Graph client: one method per call Convene makes.

Nothing else in Convene builds Graph paths or reads Graph error bodies, for requests sent alone
or in a JSON batch alike, and nothing else opens connections to Graph (``shared_http``: one
pool per process). Every failure comes out as one of the typed exceptions of ``errors``, so the
rest decides on *kinds* of failure (retry later, ask the person to sign in again, give up and
show it) and never on status codes or message text.
"""

from __future__ import annotations

import email.utils
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from django.conf import settings

from convene.outlook.microsoft.errors import (
    MAILBOX_GONE_CODES,
    RECIPIENT_LIMIT_CODES,
    SENDING_QUOTA_CODES,
    SYNC_STATE_CODES,
    AccessDenied,
    AuthorizationLost,
    CopyChanged,
    MailboxGone,
    MicrosoftError,
    NotFound,
    NotSent,
    Rejected,
    SendingLimitReached,
    SyncStateExpired,
    Throttled,
    TooManyRecipients,
    Transient,
)
from convene.outlook.microsoft.registration import AppRegistration

JSON = dict[str, Any]


TokenSource = Callable[[bool], str]
"""Returns a bearer token; called with ``True`` after a 401 to force a fresh one."""

Gate = Callable[[], AbstractContextManager[object]]
"""Held around every request: where the per-mailbox limit is enforced."""

MAX_BATCH = 20
# Addresses per getSchedule request (calendar-getschedule.md).
MAX_SCHEDULES = 20
"""Microsoft's limit on requests in one JSON batch."""


@dataclass(frozen=True)
class Call:
    """One request on the client's mailbox, sent alone (``GraphClient.call``) or in a batch."""

    method: str
    path: str  # below the mailbox root, e.g. "/events"
    body: JSON | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create_event(cls, payload: JSON) -> Call:
        return cls("POST", "/events", payload)

    @classmethod
    def update_event(cls, event_id: str, changes: JSON, *, if_version: str = "") -> Call:
        """A PATCH; with ``if_version`` (a changeKey) Outlook refuses it (``CopyChanged``)
        unless its copy is still that version."""
        return cls("PATCH", event_path(event_id), changes, if_match(if_version))

    @classmethod
    def cancel_event(cls, event_id: str, comment: str) -> Call:
        return cls("POST", f"{event_path(event_id)}/cancel", {"comment": comment})

    @classmethod
    def instances(cls, master_id: str, start: str, end: str) -> Call:
        """A series master's occurrences between two instants, as ``GraphClient.instances``
        reads them, for a batch (one page: a Convene series has at most 100 sessions)."""
        query = urlencode(
            {
                "startDateTime": start,
                "endDateTime": end,
                "$select": "id,type,originalStart",
                "$top": "100",
            },
            safe="$,:",
        )
        return cls("GET", f"{event_path(master_id)}/instances?{query}")

    @classmethod
    def get_schedule(
        cls, schedules: list[str], start: datetime, end: datetime, interval: int
    ) -> Call:
        if not 1 <= len(schedules) <= MAX_SCHEDULES:
            raise ValueError(f"getSchedule takes 1 to {MAX_SCHEDULES} addresses")
        body = {
            "schedules": schedules,
            "startTime": {"dateTime": _utc(start), "timeZone": "UTC"},
            "endTime": {"dateTime": _utc(end), "timeZone": "UTC"},
            "availabilityViewInterval": interval,
        }
        return cls("POST", "/calendar/getSchedule", body)


def if_match(change_key: str) -> dict[str, str]:
    """Graph's optimistic concurrency: the event's etag is ``W/"<changeKey>"``."""
    return {"If-Match": f'W/"{change_key}"'} if change_key else {}


@dataclass
class GraphClient:
    """Graph calls on one mailbox.

    ``mailbox`` is ``None`` for the signed-in user (delegated access, ``/me``) or a user id or
    UPN (application access, ``/users/{mailbox}``).
    """

    base_url: str
    token: TokenSource
    http: httpx.Client
    mailbox: str | None = None
    gate: Gate = field(default=lambda: nullcontext())
    # Held around a JSON batch: Outlook runs up to 4 of its requests at once on the mailbox.
    batch_gate: Gate = field(default=lambda: nullcontext())

    # --- calendar -------------------------------------------------------------------------

    def get_calendar(self) -> JSON:
        """The mailbox's default calendar (name, owner, whether we may edit it)."""
        return self._json("GET", f"{self._root}/calendar")

    # --- places and free/busy --------------------------------------------------------------

    def list_places(self, kind: str, room_list: str | None = None) -> list[JSON]:
        """Every room (``kind="room"``) or room list (``"roomList"``) of the tenant, or the
        rooms of one room list (named by its email address), all pages read."""
        if room_list is not None:
            url = f"{self.base_url}/places/{_seg(room_list)}/microsoft.graph.roomList/rooms"
        else:
            url = f"{self.base_url}/places/microsoft.graph.{kind}"
        found: list[JSON] = []
        params: dict[str, str] | None = {"$top": "100"}
        while url:
            page = self._json("GET", url, params=params)
            found += [p for p in page.get("value") or [] if isinstance(p, dict)]
            url, params = str(page.get("@odata.nextLink") or ""), None
        return found

    def get_schedule(
        self, schedules: list[str], start: datetime, end: datetime, interval: int
    ) -> list[JSON]:
        """Free/busy of up to ``MAX_SCHEDULES`` addresses (``calendar/getSchedule``): one
        scheduleInformation per address, in order."""
        return schedule_information(self.call(Call.get_schedule(schedules, start, end, interval)))

    # --- events ---------------------------------------------------------------------------

    def create_event(self, payload: JSON) -> JSON:
        return self.call(Call.create_event(payload))

    def get_event(self, event_id: str, select: tuple[str, ...] = ()) -> JSON:
        params = {"$select": ",".join(select)} if select else None
        return self._json("GET", f"{self._root}{event_path(event_id)}", params=params)

    def find_events_by_property(self, property_id: str, value: str) -> list[JSON]:
        """Events of the mailbox whose single-value extended property ``property_id`` holds
        ``value`` (Convene stamps its event id on every copy it creates)."""
        quoted = value.replace("'", "''")
        params = {
            "$filter": (
                f"singleValueExtendedProperties/Any(ep: ep/id eq '{property_id}' "
                f"and ep/value eq '{quoted}')"
            )
        }
        answer = self._json("GET", f"{self._root}/events", params=params)
        found: list[JSON] = answer.get("value") or []
        return found

    def cancel_event(self, event_id: str, comment: str) -> None:
        self.call(Call.cancel_event(event_id, comment))

    def instances(self, master_id: str, start: str, end: str) -> list[JSON]:
        """A series master's occurrences and exceptions between two instants (ISO 8601)."""
        url = f"{self._root}{event_path(master_id)}/instances"
        params: dict[str, str] | None = {
            "startDateTime": start,
            "endDateTime": end,
            "$select": "id,type,originalStart",
            # a Convene series has at most 100 sessions: one page
            "$top": "100",
        }
        found: list[JSON] = []
        while True:
            page = self._json("GET", url, params=params)
            found += page.get("value") or []
            url = str(page.get("@odata.nextLink") or "")
            if not url:
                return found
            params = None

    def delete_event(self, event_id: str) -> None:
        self._send("DELETE", f"{self._root}{event_path(event_id)}")

    @property
    def events_resource(self) -> str:
        """The mailbox's events as a subscription's ``resource`` names them (``me/events``,
        ``users/{mailbox}/events``: a resource, not a URL, so the address is not quoted)."""
        return "me/events" if self.mailbox is None else f"users/{self.mailbox}/events"

    def calendar_view_delta(self, link: str | None, start: str, end: str) -> Iterator[JSON]:
        """Yield each page of a delta round; the last page carries ``@odata.deltaLink``.

        ``link`` is a stored nextLink or deltaLink (a fresh round starts when it is ``None``).
        """
        url = link or f"{self._root}/calendarView/delta"
        params = None if link else {"startDateTime": start, "endDateTime": end}
        while True:
            page = self._json(
                "GET", url, params=params, headers={"Prefer": "odata.maxpagesize=100"}
            )
            yield page
            next_link = page.get("@odata.nextLink")
            if not next_link:
                return
            url, params = next_link, None

    def calendar_view(
        self, start: str, end: str, select: tuple[str, ...], page_size: int
    ) -> Iterator[JSON]:
        """Yield each page of the events shown between ``start`` and ``end`` (only the
        ``select``ed properties, up to ``page_size`` a page)."""
        url = f"{self._root}/calendarView"
        params: dict[str, str] | None = {
            "startDateTime": start,
            "endDateTime": end,
            "$select": ",".join(select),
        }
        while True:
            page = self._json(
                "GET", url, params=params, headers={"Prefer": f"odata.maxpagesize={page_size}"}
            )
            yield page
            next_link = page.get("@odata.nextLink")
            if not next_link:
                return
            url, params = next_link, None

    # --- any call, alone or batched -------------------------------------------------------

    def call(self, call: Call) -> JSON:
        """Send one call; its JSON answer (empty when Graph answers without a body)."""
        response = self._send(
            call.method, f"{self._root}{call.path}", headers=call.headers or None, json=call.body
        )
        body: JSON = response.json() if response.content else {}
        return body

    def batch(self, calls: list[Call], *, ordered: bool = False) -> list[JSON | MicrosoftError]:
        """Send up to ``MAX_BATCH`` calls as one JSON batch; each call's answer, in order, or
        the error it got (Graph throttles and fails each call on its own). A failure of the
        batch request itself raises, as for any request.

        Unordered, Outlook runs up to 4 of the calls at once (the batch holds ``batch_gate``).
        ``ordered`` chains them with ``dependsOn``: Outlook runs one at a time, so the batch
        holds one request slot (``gate``) and up to 4 such batches share the mailbox; after a
        failed call the rest answer ``NotSent``."""
        if not 1 <= len(calls) <= MAX_BATCH:
            raise ValueError(f"A batch holds 1 to {MAX_BATCH} requests, not {len(calls)}.")
        requests = []
        for number, call in enumerate(calls):
            url = self._root + call.path
            request: JSON = {"id": str(number), "method": call.method, "url": url}
            headers = dict(call.headers)
            if call.body is not None:
                headers["Content-Type"] = "application/json"
                request["body"] = call.body
            if headers:
                request["headers"] = headers
            if ordered and number:
                request["dependsOn"] = [str(number - 1)]
            requests.append(request)
        response = self._send(
            "POST",
            "/$batch",
            json={"requests": requests},
            gate=self.gate if ordered else self.batch_gate,
        )
        try:
            answers = {str(a.get("id")): a for a in response.json().get("responses") or []}
        except (ValueError, AttributeError) as exc:
            raise Transient(f"Microsoft Graph answered a batch unreadably ({exc!r})") from exc
        results: list[JSON | MicrosoftError] = []
        for number in range(len(calls)):
            answer = answers.get(str(number))
            if answer is None:
                results.append(Transient("Microsoft Graph left a batched request unanswered."))
                continue
            status = int(answer.get("status") or 500)
            body = answer.get("body")
            if 200 <= status < 300:
                results.append(body if isinstance(body, dict) else {})
            elif status == 401:
                # Alone, a 401 is tried again with a fresh token before the authorization
                # counts as lost: the call goes alone next time, and gets that chance there.
                results.append(Transient("Microsoft Graph refused a batched request's token."))
            else:
                inner = httpx.Response(
                    status, headers=answer.get("headers") or {}, json=body if body else None
                )
                results.append(self.batched_error(error_from_response(inner)))
        return results

    def batched_error(self, error: MicrosoftError) -> MicrosoftError:
        """What a batched call's error means here: the same as for the call sent alone."""
        return error

    # --- mail -----------------------------------------------------------------------------

    def answers_from(self, sender: str, since: datetime, *, top: int = 5) -> list[JSON]:
        """The newest messages ``sender`` sent this mailbox since ``since`` (one request, at
        most ``top``): their subject, plain-text body and, for a meeting answer, the id of the
        event it answers (``$expand=microsoft.graph.eventMessage/event``).

        As list messages documents: ``$filter`` on ``receivedDateTime`` and the sender's
        address, ``$orderby`` only on a property filtered first (else ``InefficientFilter``),
        bodies as text with ``Prefer: outlook.body-content-type="text"``. Needs Mail.Read;
        with Mail.ReadBasic Graph leaves the body out."""
        quoted = sender.replace("'", "''")
        params = {
            "$filter": f"receivedDateTime ge {_utc(since)}Z and from/emailAddress/address eq "
            f"'{quoted}'",
            "$orderby": "receivedDateTime desc",
            "$select": "subject,body,from,receivedDateTime",
            "$expand": "microsoft.graph.eventMessage/event($select=id)",
            "$top": str(top),
        }
        page = self._json(
            "GET",
            f"{self._root}/messages",
            params=params,
            headers={"Prefer": 'outlook.body-content-type="text"'},
        )
        return [m for m in page.get("value") or [] if isinstance(m, dict)]

    # --- subscriptions (not tied to the mailbox path) -------------------------------------

    def create_subscription(self, body: JSON) -> JSON:
        return self._json("POST", "/subscriptions", json=body)

    def renew_subscription(self, subscription_id: str, expiration: str) -> JSON:
        return self._json(
            "PATCH",
            f"/subscriptions/{_seg(subscription_id)}",
            json={"expirationDateTime": expiration},
        )

    def delete_subscription(self, subscription_id: str) -> None:
        self._send("DELETE", f"/subscriptions/{_seg(subscription_id)}")

    # --- plumbing -------------------------------------------------------------------------

    @property
    def _root(self) -> str:
        return "/me" if self.mailbox is None else f"/users/{_seg(self.mailbox)}"

    def _json(self, method: str, url: str, **kwargs: Any) -> JSON:
        response = self._send(method, url, **kwargs)
        body: JSON = response.json()
        return body

    def _send(
        self,
        method: str,
        url: str,
        headers: dict[str, str] | None = None,
        gate: Gate | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        if not url.startswith(("https://", "http://")):
            url = self.base_url.rstrip("/") + url
        fresh_token = False
        while True:
            auth = {"Authorization": f"Bearer {self.token(fresh_token)}"}
            try:
                with (gate or self.gate)():
                    response = self.http.request(
                        method, url, headers={**(headers or {}), **auth}, **kwargs
                    )
            except httpx.TimeoutException as exc:
                raise Transient(f"Microsoft Graph did not answer in time ({exc!r})") from exc
            except httpx.TransportError as exc:
                raise Transient(f"Could not reach Microsoft Graph ({exc!r})") from exc
            if response.status_code == 401 and not fresh_token:
                # An access token can be revoked before it expires: get a new one, once.
                fresh_token = True
                continue
            if response.is_success:
                return response
            raise error_from_response(response)


# The answer Microsoft documents for a mailbox outside an application access policy (RBAC for
# Applications documents no message of its own).
_ACCESS_POLICY_MESSAGE = "Access to OData is disabled"


def mailbox_missing(error: MicrosoftError) -> bool:
    """The whole mailbox is unknown to Exchange (not just one event in it)."""
    return isinstance(error, MailboxGone) or error.code.lower() in MAILBOX_GONE_CODES


def kept_out_by_access_policy(error: MicrosoftError) -> bool:
    """An application access policy keeps the app out of the mailbox."""
    return isinstance(error, AccessDenied) and _ACCESS_POLICY_MESSAGE in str(error)


def error_from_response(response: httpx.Response) -> MicrosoftError:
    status = response.status_code
    code, message = _error_body(response)
    text = f"{status} {code}: {message}" if code else f"{status}: {message}"
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if code.lower() in SENDING_QUOTA_CODES:
        # Decided by the code: Exchange's answer is not a 429, and is not about access.
        return SendingLimitReached(text, status=status, code=code, retry_after=retry_after)
    if code.lower() in RECIPIENT_LIMIT_CODES:
        return TooManyRecipients(text, status=status, code=code)
    if status == 429:
        return Throttled(text, status=status, code=code, retry_after=retry_after)
    if status == 424:  # only inside a batch: an earlier call it depended on failed
        return NotSent(text, status=status, code=code)
    if status >= 500 or status == 408:
        return Transient(text, status=status, code=code, retry_after=retry_after)
    if code.lower() in SYNC_STATE_CODES or (status == 410 and not code):
        # Decided by the code, whatever the status: Graph answers these with 400 or 410.
        return SyncStateExpired(text, status=status, code=code)
    if status == 401:
        return AuthorizationLost(text, status=status, code=code)
    if status == 403:
        return AccessDenied(text, status=status, code=code)
    if status == 404 and code.lower() in MAILBOX_GONE_CODES:
        return MailboxGone(text, status=status, code=code)
    if status == 404:
        return NotFound(text, status=status, code=code)
    if status == 410:
        return SyncStateExpired(text, status=status, code=code)
    if status == 412:
        return CopyChanged(text, status=status, code=code)
    return Rejected(text, status=status, code=code)


def _error_body(response: httpx.Response) -> tuple[str, str]:
    try:
        error = response.json().get("error", {})
    except ValueError:
        return "", response.reason_phrase or "no error body"
    if not isinstance(error, dict):
        return "", str(error)
    return str(error.get("code", "")), str(error.get("message", ""))


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After is seconds (Graph sends fractions such as ``2.128``) or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def event_path(event_id: str) -> str:
    """An event's path below the mailbox root."""
    return f"/events/{_seg(event_id)}"


def _seg(value: str) -> str:
    """Quote one path segment: Graph ids contain ``/``, ``+`` and ``=``."""
    return quote(value, safe="")


_pools: dict[tuple[str | None, float], httpx.Client] = {}
_pools_lock = threading.Lock()


def shared_http(registration: AppRegistration) -> httpx.Client:
    """The one connection pool to Graph of this process (per CA and timeout), reused by every
    client: the sync engine's, the move engine's, the platform's "Test connection"."""
    timeout = float(settings.OUTLOOK_HTTP_TIMEOUT_SECONDS)
    key = (registration.ca_bundle, timeout)
    with _pools_lock:
        client = _pools.get(key)
        if client is None:
            client = _pools[key] = httpx.Client(
                verify=ssl.create_default_context(cafile=registration.ca_bundle),
                timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
                trust_env=False,
                limits=httpx.Limits(max_connections=100, max_keepalive_connections=50),
            )
        return client


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


def schedule_information(answer: JSON) -> list[JSON]:
    """The scheduleInformation items of a getSchedule answer, in the order asked."""
    return [v for v in answer.get("value") or [] if isinstance(v, dict)]
