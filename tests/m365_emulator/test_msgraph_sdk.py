"""Microsoft's official msgraph-sdk, unchanged, against the emulator over real HTTPS."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import pytest
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.attendee import Attendee
from msgraph.generated.models.attendee_type import AttendeeType
from msgraph.generated.models.body_type import BodyType
from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone
from msgraph.generated.models.day_of_week import DayOfWeek
from msgraph.generated.models.email_address import EmailAddress
from msgraph.generated.models.event import Event
from msgraph.generated.models.event_type import EventType
from msgraph.generated.models.item_body import ItemBody
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.patterned_recurrence import PatternedRecurrence
from msgraph.generated.models.recurrence_pattern import RecurrencePattern
from msgraph.generated.models.recurrence_pattern_type import RecurrencePatternType
from msgraph.generated.models.recurrence_range import RecurrenceRange
from msgraph.generated.models.recurrence_range_type import RecurrenceRangeType
from msgraph.generated.models.response_type import ResponseType
from msgraph.generated.models.subscription import Subscription
from msgraph.generated.users.item.calendar_view.calendar_view_request_builder import (
    CalendarViewRequestBuilder,
)
from msgraph.generated.users.item.calendar_view.delta.delta_request_builder import (
    DeltaRequestBuilder,
)
from msgraph.generated.users.item.events.events_request_builder import EventsRequestBuilder
from msgraph.generated.users.item.events.item.accept.accept_post_request_body import (
    AcceptPostRequestBody,
)
from msgraph.generated.users.item.events.item.cancel.cancel_post_request_body import (
    CancelPostRequestBody,
)
from msgraph.generated.users.item.events.item.decline.decline_post_request_body import (
    DeclinePostRequestBody,
)
from msgraph.generated.users.item.events.item.event_item_request_builder import (
    EventItemRequestBuilder,
)
from msgraph.generated.users.item.events.item.instances.instances_request_builder import (
    InstancesRequestBuilder,
)
from msgraph.graph_request_adapter import options as SDK_MIDDLEWARE_OPTIONS
from msgraph_core import GraphClientFactory
from msgraph_core.requests.batch_request_content import BatchRequestContent
from msgraph_core.requests.batch_request_item import BatchRequestItem

from m365_emulator.graph.testkit import WebhookReceiver, webhook_receiver
from m365_emulator.testing import EmulatorHandle, ca_context

SERVICE = "events@convene-platform.test"
ADA = "ada@contoso.test"
T = TypeVar("T")
# The generated SDK warns about its own deprecated request-configuration classes.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class EmulatorTokens(AccessTokenProvider):  # type: ignore[misc]
    """Hands the SDK a token obtained from the emulator, for the emulator's host only."""

    def __init__(self, token: str, host: str) -> None:
        self._token = token
        self._validator = AllowedHostsValidator([host])

    async def get_authorization_token(
        self, uri: str, additional_authentication_context: dict[str, Any] | None = None
    ) -> str:
        return self._token if self._validator.is_url_host_valid(uri) else ""

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return self._validator


def with_sdk(
    emulator: EmulatorHandle, token: str, work: Callable[[GraphServiceClient], Awaitable[T]]
) -> T:
    async def run() -> T:
        host = urlsplit(emulator.graph_url).hostname or ""
        auth = BaseBearerTokenAuthenticationProvider(EmulatorTokens(token, host))
        async with httpx.AsyncClient(verify=ca_context(emulator.ca_path)) as http:
            # The SDK's own middleware options (they turn /users/me-token-to-replace into /me).
            client = GraphClientFactory.create_with_default_middleware(
                client=http, options=SDK_MIDDLEWARE_OPTIONS
            )
            adapter = GraphRequestAdapter(auth, client=client)
            adapter.base_url = emulator.graph_url
            return await work(GraphServiceClient(request_adapter=adapter))

    return asyncio.run(run())


def new_event(subject: str, *attendees: str) -> Event:
    return Event(
        subject=subject,
        body=ItemBody(content_type=BodyType.Text, content="From the SDK"),
        start=DateTimeTimeZone(
            date_time="2030-05-06T09:00:00", time_zone="W. Europe Standard Time"
        ),
        end=DateTimeTimeZone(date_time="2030-05-06T10:00:00", time_zone="W. Europe Standard Time"),
        attendees=[
            Attendee(email_address=EmailAddress(address=a), type=AttendeeType.Required)
            for a in attendees
        ],
        transaction_id=f"sdk-{subject}",
    )


@pytest.fixture
def app(emulator: EmulatorHandle) -> str:
    return emulator.app_token()


def test_events_crud(emulator: EmulatorHandle, app: str) -> None:
    async def work(client: GraphServiceClient) -> tuple[Any, ...]:
        events = client.users.by_user_id(SERVICE).events
        created = await events.post(new_event("SDK meeting"))
        assert created is not None and created.id is not None
        again = await events.post(new_event("SDK meeting"))
        patched = await events.by_event_id(created.id).patch(Event(subject="Renamed"))
        fetched = await events.by_event_id(created.id).get()
        await events.by_event_id(created.id).delete()
        try:
            await events.by_event_id(created.id).get()
            missing_code = None
        except ODataError as exc:
            missing_code = exc.error.code if exc.error else None
        return created, again, patched, fetched, missing_code

    created, again, patched, fetched, missing_code = with_sdk(emulator, app, work)
    assert again.id == created.id
    assert patched.subject == fetched.subject == "Renamed"
    assert fetched.start.time_zone == "UTC"
    assert fetched.change_key != created.change_key
    assert missing_code == "ErrorItemNotFound"


def test_accept_and_decline_reach_the_organizer(emulator: EmulatorHandle, app: str) -> None:
    organizer = with_sdk(
        emulator, app, lambda c: c.users.by_user_id(SERVICE).events.post(new_event("Both", ADA))
    )
    ada = emulator.token_for(ADA)

    async def respond(client: GraphServiceClient) -> None:
        page = await client.me.events.get()
        copy_id = page.value[0].id
        await client.me.events.by_event_id(copy_id).accept.post(
            AcceptPostRequestBody(comment="Yes", send_response=True)
        )
        await client.me.events.by_event_id(copy_id).decline.post(
            DeclinePostRequestBody(comment="Sorry", send_response=True)
        )

    with_sdk(emulator, ada, respond)
    fetched = with_sdk(
        emulator, app, lambda c: c.users.by_user_id(SERVICE).events.by_event_id(organizer.id).get()
    )
    assert fetched.attendees[0].status.response == ResponseType.Declined


def test_cancel(emulator: EmulatorHandle, app: str) -> None:
    async def work(client: GraphServiceClient) -> None:
        events = client.users.by_user_id(SERVICE).events
        created = await events.post(new_event("Doomed", ADA))
        await events.by_event_id(created.id).cancel.post(CancelPostRequestBody(comment="Off"))

    with_sdk(emulator, app, work)
    copy = emulator.control("GET", f"/mailboxes/{ADA}/events").json()["value"][0]
    assert copy["isCancelled"] is True


def test_calendar_view_delta(emulator: EmulatorHandle, app: str) -> None:
    async def work(client: GraphServiceClient) -> tuple[int, int]:
        user = client.users.by_user_id(SERVICE)
        for index in range(3):
            await user.events.post(new_event(f"D{index}"))
        query = DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(
            start_date_time="2030-05-01T00:00:00Z", end_date_time="2030-06-01T00:00:00Z"
        )
        config = RequestConfiguration(query_parameters=query)
        config.headers.add("Prefer", "odata.maxpagesize=2")
        page = await user.calendar_view.delta.get(request_configuration=config)
        seen = len(page.value)
        while page.odata_next_link:
            page = await user.calendar_view.delta.with_url(page.odata_next_link).get(
                request_configuration=RequestConfiguration()
            )
            seen += len(page.value)
        first = (await user.events.get()).value[0]
        await user.events.by_event_id(first.id).delete()
        changes = await user.calendar_view.delta.with_url(page.odata_delta_link).get()
        return seen, len(changes.value)

    seen, changed = with_sdk(emulator, app, work)
    assert (seen, changed) == (3, 1)


def test_recurring_series_with_an_exception(emulator: EmulatorHandle, app: str) -> None:
    async def work(client: GraphServiceClient) -> tuple[Any, ...]:
        events = client.users.by_user_id(SERVICE).events
        series = new_event("SDK series", ADA)
        series.recurrence = PatternedRecurrence(
            pattern=RecurrencePattern(
                type=RecurrencePatternType.Weekly,
                interval=1,
                days_of_week=[DayOfWeek.Monday],
            ),
            range=RecurrenceRange(
                type=RecurrenceRangeType.Numbered,
                start_date=dt.date(2030, 5, 6),
                number_of_occurrences=3,
            ),
        )
        master = await events.post(series)
        assert master is not None and master.id is not None
        query = InstancesRequestBuilder.InstancesRequestBuilderGetQueryParameters(
            start_date_time="2030-05-01T00:00:00Z", end_date_time="2030-06-01T00:00:00Z"
        )
        instances = events.by_event_id(master.id).instances
        listed = await instances.get(RequestConfiguration(query_parameters=query))
        second = listed.value[1]
        patched = await events.by_event_id(second.id).patch(Event(subject="Special Monday"))
        again = await instances.get(RequestConfiguration(query_parameters=query))
        return master, listed.value, patched, again.value

    master, listed, patched, again = with_sdk(emulator, app, work)
    assert master.type == EventType.SeriesMaster
    assert master.recurrence.range.number_of_occurrences == 3
    assert master.recurrence.range.start_date == dt.date(2030, 5, 6)
    assert [e.type for e in listed] == [EventType.Occurrence] * 3
    assert [e.start.date_time[:10] for e in listed] == ["2030-05-06", "2030-05-13", "2030-05-20"]
    assert (patched.id, patched.type) == (listed[1].id, EventType.Exception)
    assert patched.series_master_id == master.id
    assert [e.subject for e in again] == ["SDK series", "Special Monday", "SDK series"]


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as receiver:
        yield receiver


def test_subscriptions(emulator: EmulatorHandle, app: str, hook: WebhookReceiver) -> None:
    now = emulator.backend.clock.now()

    async def work(client: GraphServiceClient) -> tuple[Any, Any]:
        created = await client.subscriptions.post(
            Subscription(
                change_type="created,updated",
                notification_url=hook.url,
                resource=f"users/{SERVICE}/events",
                expiration_date_time=now + dt.timedelta(hours=1),
                client_state="sdk",
            )
        )
        renewed = await client.subscriptions.by_subscription_id(created.id).patch(
            Subscription(expiration_date_time=now + dt.timedelta(hours=2))
        )
        await client.users.by_user_id(SERVICE).events.post(new_event("Watched"))
        await client.subscriptions.by_subscription_id(created.id).delete()
        return created, renewed

    created, renewed = with_sdk(emulator, app, work)
    assert renewed.expiration_date_time > created.expiration_date_time
    assert hook.wait_for(1)[0]["clientState"] == "sdk"


def test_batch(emulator: EmulatorHandle, app: str) -> None:
    async def work(client: GraphServiceClient) -> dict[str, int]:
        events = client.users.by_user_id(SERVICE).events
        create = BatchRequestItem(events.to_post_request_information(new_event("Batched")), id="1")
        listing = BatchRequestItem(events.to_get_request_information(), id="2", depends_on=["1"])
        content = BatchRequestContent({"1": create, "2": listing})
        response = await client.batch.post(batch_request_content=content)
        return {item_id: item.status for item_id, item in response.responses.items()}

    assert with_sdk(emulator, app, work) == {"1": 201, "2": 200}


def test_read_with_select(emulator: EmulatorHandle, app: str) -> None:
    async def work(client: GraphServiceClient) -> Event:
        events = client.users.by_user_id(SERVICE).events
        created = await events.post(new_event("Selected"))
        query = EventItemRequestBuilder.EventItemRequestBuilderGetQueryParameters(
            select=["subject", "start"]
        )
        fetched = await events.by_event_id(created.id).get(
            request_configuration=RequestConfiguration(query_parameters=query)
        )
        assert fetched is not None
        return fetched

    fetched = with_sdk(emulator, app, work)
    assert fetched.subject == "Selected"
    assert fetched.start is not None and fetched.start.time_zone == "UTC"
    assert fetched.body is None and fetched.attendees is None


def test_list_with_paging(emulator: EmulatorHandle, app: str) -> None:
    async def work(client: GraphServiceClient) -> list[int]:
        events = client.users.by_user_id(SERVICE).events
        for index in range(5):
            await events.post(new_event(f"P{index}"))
        query = EventsRequestBuilder.EventsRequestBuilderGetQueryParameters(top=2)
        page = await events.get(request_configuration=RequestConfiguration(query_parameters=query))
        sizes = [len(page.value)]
        while page.odata_next_link:
            page = await events.with_url(page.odata_next_link).get()
            sizes.append(len(page.value))
        return sizes

    assert with_sdk(emulator, app, work) == [2, 2, 1]


def test_calendar_view(emulator: EmulatorHandle, app: str) -> None:
    async def work(client: GraphServiceClient) -> list[str]:
        user = client.users.by_user_id(SERVICE)
        await user.events.post(new_event("In May"))
        query = CalendarViewRequestBuilder.CalendarViewRequestBuilderGetQueryParameters(
            start_date_time="2030-05-06T00:00:00Z", end_date_time="2030-05-07T00:00:00Z"
        )
        config = RequestConfiguration(query_parameters=query)
        config.headers.add("Prefer", 'outlook.timezone="W. Europe Standard Time"')
        view = await user.calendar_view.get(request_configuration=config)
        return [
            f"{e.subject} {e.start.date_time} {e.start.time_zone}" for e in view.value if e.start
        ]

    assert with_sdk(emulator, app, work) == [
        "In May 2030-05-06T09:00:00.0000000 W. Europe Standard Time"
    ]


def test_me_with_a_delegated_token(emulator: EmulatorHandle) -> None:
    token = emulator.token_for(ADA, scopes=("User.Read",))

    async def work(client: GraphServiceClient) -> Any:
        return await client.me.get()

    me = with_sdk(emulator, token, work)
    assert me.user_principal_name == ADA
    assert me.mail == ADA
