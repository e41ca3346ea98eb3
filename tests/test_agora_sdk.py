"""The 10 Agora agent operations through the official SDK (agora-agents), unmodified."""

from __future__ import annotations

import httpx
import pytest
from agora_agent.core.api_error import ApiError

from .agora_support import T0, Tenant, basic, properties


def error_of(exc: pytest.ExceptionInfo[ApiError]) -> tuple[int | None, str]:
    return exc.value.status_code, exc.value.body["reason"]  # type: ignore[index]


def test_start_get_and_the_lifecycle(tenant: Tenant) -> None:
    started = tenant.sdk.agents.start(tenant.appid, name="support", properties=properties())
    assert started.status == "RUNNING" and started.create_ts == int(T0)
    assert started.agent_id.startswith("1NT29X") and len(started.agent_id) == 25
    got = tenant.sdk.agents.get(tenant.appid, started.agent_id)
    assert (got.status, got.start_ts, got.stop_ts, got.agent_id) == ("RUNNING", int(T0), 0, started.agent_id)
    assert got.name == "support"  # type: ignore[attr-defined]
    tenant.sdk.agents.stop(tenant.appid, started.agent_id)
    assert tenant.sdk.agents.get(tenant.appid, started.agent_id).status == "STOPPING"
    tenant.advance(1)
    got = tenant.sdk.agents.get(tenant.appid, started.agent_id)
    assert (got.status, got.stop_ts, got.message) == ("STOPPED", int(T0) + 1, "agent exits with reason: leave")
    # A stopped agent takes no more actions, and leave on it is a 404 (which the SDK's helpers treat as done).
    for action in (
        lambda: tenant.sdk.agents.speak(tenant.appid, started.agent_id, text="x"),
        lambda: tenant.sdk.agents.interrupt(tenant.appid, started.agent_id),
        lambda: tenant.sdk.agent_management.agent_think(tenant.appid, started.agent_id, text="x"),
        lambda: tenant.sdk.agents.update(tenant.appid, started.agent_id, properties={"token": "t"}),
        lambda: tenant.sdk.agents.get_history(tenant.appid, started.agent_id),
        lambda: tenant.sdk.agents.stop(tenant.appid, started.agent_id),
    ):
        with pytest.raises(ApiError) as exc:
            action()
        assert error_of(exc) == (404, "TaskNotFound")
    # Turns stay readable after the session (for 7 days).
    assert tenant.sdk.agents.get_turns(tenant.appid, started.agent_id).agent_id == started.agent_id


def test_speak_interrupt_think_history_turns(tenant: Tenant) -> None:
    agent_id = tenant.start(llm={"url": "https://llm.example/v1", "greeting_message": "Hello!"})
    spoke = tenant.sdk.agents.speak(tenant.appid, agent_id, text="Your order has shipped.", priority="APPEND")
    assert (spoke.agent_id, spoke.channel, spoke.start_ts) == (agent_id, "support-channel", int(T0))
    tenant.advance(10)
    thought = tenant.sdk.agent_management.agent_think(tenant.appid, agent_id, text="The user clicked buy.")
    assert thought.channel == "support-channel"
    tenant.advance(0.5)
    interrupted = tenant.sdk.agents.interrupt(tenant.appid, agent_id)
    assert interrupted.start_ts == int(T0 + 10.5)
    history = tenant.sdk.agents.get_history(tenant.appid, agent_id)
    assert history.status == "RUNNING"
    assert [(c.role, c.content) for c in history.contents] == [
        ("assistant", "Hello!"),
        ("assistant", "Your order has shipped."),
        ("user", "The user clicked buy."),
    ]
    turns = tenant.sdk.agents.get_turns(tenant.appid, agent_id)
    assert turns.total_turn_count == 3
    summary = [(t.turn_id, t.start.type, t.end.type, t.end.metadata.caused_by) for t in turns.turns]
    assert summary == [
        (1, "greeting", "ok", None),
        (2, "api_speak", "ok", None),
        (3, "api_speak", "interrupted", "api_interrupt"),
    ]
    assert turns.pagination.is_last_page and turns.turns[2].start.metadata.action == "think"


def test_update_replaces_token_and_llm_settings(tenant: Tenant) -> None:
    agent_id = tenant.start(llm={"url": "https://llm.example", "params": {"model": "a", "max_tokens": 5}})
    updated = tenant.sdk.agents.update(
        tenant.appid, agent_id, properties={"token": "fresh", "llm": {"params": {"model": "b"}}}
    )
    assert (updated.agent_id, updated.status, updated.create_ts) == (agent_id, "RUNNING", int(T0))
    stored = tenant.server.world.agora.agent(tenant.appid, agent_id).properties
    assert stored["token"] == "fresh" and stored["llm"]["params"] == {"model": "b"}  # replaced whole


def test_list_filters_and_the_sdk_pager_walks_every_page(tenant: Tenant) -> None:
    ids = [tenant.start(name=f"a{i}", channel=f"c{i % 2}", agent_rtc_uid=str(2000 + i)) for i in range(25)]
    pager = tenant.sdk.agents.list(tenant.appid, limit=10)
    assert [item.agent_id for item in pager] == ids
    first = tenant.sdk.agents.list(tenant.appid, limit=10)
    assert first.response.meta.total == 25 and first.response.data.count == 10
    assert [i.agent_id for i in tenant.sdk.agents.list(tenant.appid, channel="c1")] == ids[1::2]
    tenant.sdk.agents.stop(tenant.appid, ids[0])
    tenant.advance(5)
    assert ids[0] not in [i.agent_id for i in tenant.sdk.agents.list(tenant.appid)]  # default state=2
    stopped = tenant.sdk.agents.list(tenant.appid, state="3,4")
    assert [(i.agent_id, i.status) for i in stopped] == [(ids[0], "STOPPED")]
    # The window is the last 2 hours by default.
    tenant.advance(2 * 3600 + 1)
    assert list(tenant.sdk.agents.list(tenant.appid)) == []
    assert len(list(tenant.sdk.agents.list(tenant.appid, from_time=T0 - 1))) == 24


def test_last_page_cursor_is_empty(tenant: Tenant) -> None:
    tenant.start()
    page = tenant.sdk.agents.list(tenant.appid)
    assert page.response.meta.cursor == "" and not page.has_next


def test_turns_pagination(tenant: Tenant) -> None:
    agent_id = tenant.start()
    for i in range(25):
        tenant.sdk.agents.speak(tenant.appid, agent_id, text=f"m{i}")
    tenant.advance(5)
    page = tenant.sdk.agents.get_turns(tenant.appid, agent_id, page_index=2, page_size=10)
    assert (page.total_turn_count, page.pagination.total_pages, page.pagination.is_last_page) == (25, 3, False)
    assert [t.turn_id for t in page.turns] == list(range(11, 21))
    with pytest.raises(ApiError) as exc:
        tenant.sdk.agents.get_turns(tenant.appid, agent_id, page_size=5)
    assert error_of(exc) == (400, "InvalidFieldValue")


# -- each documented error status ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "reason", "words"),
    [
        (lambda p: p.pop("channel"), "MissingRequiredField", "properties.channel"),
        (lambda p: p.pop("llm"), "MissingRequiredField", "properties.llm"),
        (lambda p: p.pop("tts"), "MissingRequiredField", "properties.tts"),
        (lambda p: p["llm"].pop("url"), "MissingRequiredField", "properties.llm.url"),
        (lambda p: p.update(idle_timeout=259201), "InvalidFieldValue", "idle_timeout"),
        (lambda p: p["llm"].update(max_history=0), "InvalidFieldValue", "max_history"),
        (lambda p: p.update(agent_rtc_uid="agent-1"), "InvalidFieldValue", "enable_string_uid"),
        (lambda p: p["tts"].update(vendor="nope"), "InvalidFieldValue", "vendor"),
    ],
)
def test_start_400s(tenant: Tenant, mutate, reason: str, words: str) -> None:  # type: ignore[no-untyped-def]
    props = properties()
    mutate(props)
    with pytest.raises(ApiError) as exc:
        tenant.sdk.agents.start(tenant.appid, name="x", properties=props)
    assert error_of(exc) == (400, reason)
    assert words in exc.value.body["detail"]  # type: ignore[index]


def test_preset_pipeline_or_mllm_make_llm_and_tts_optional(tenant: Tenant) -> None:
    bare = properties()
    del bare["llm"], bare["tts"]
    assert tenant.sdk.agents.start(tenant.appid, name="p", properties=bare, preset="openai_gpt_4o_mini").agent_id
    assert tenant.sdk.agents.start(tenant.appid, name="q", properties={**bare, "agent_rtc_uid": "7"}, pipeline_id="9")
    mllm = {**bare, "agent_rtc_uid": "8", "mllm": {"enable": True, "vendor": "openai"}}
    agent_id = tenant.sdk.agents.start(tenant.appid, name="r", properties=mllm).agent_id
    with pytest.raises(ApiError) as exc:
        tenant.sdk.agents.speak(tenant.appid, agent_id, text="hi")
    assert error_of(exc) == (400, "InvalidFieldValue")


def test_speak_text_over_512_bytes(tenant: Tenant) -> None:
    agent_id = tenant.start()
    assert tenant.sdk.agents.speak(tenant.appid, agent_id, text="é" * 256).agent_id  # 512 bytes
    with pytest.raises(ApiError) as exc:
        tenant.sdk.agents.speak(tenant.appid, agent_id, text="é" * 257)
    assert error_of(exc) == (400, "InvalidFieldValue")


def test_401_for_bad_or_missing_credentials(tenant: Tenant) -> None:
    for header in ("", basic(tenant.customer_id, "wrong"), "Bearer x", "Basic !!!", "agora token=nope"):
        r = httpx.get(f"{tenant.base}/agents", headers={"authorization": header} if header else {})
        assert r.status_code == 401, header
        assert r.json()["reason"] == "InvalidPermission"


def test_403_for_an_appid_of_another_customer(tenant: Tenant) -> None:
    with pytest.raises(ApiError) as exc:
        tenant.sdk.agents.list("demo-app-id").response  # noqa: B018
    assert error_of(exc) == (403, "InvalidPermission")


def test_404_for_an_unknown_agent(tenant: Tenant) -> None:
    with pytest.raises(ApiError) as exc:
        tenant.sdk.agents.get(tenant.appid, "1NT29XNOPE")
    assert error_of(exc) == (404, "TaskNotFound")


def test_409_for_a_name_in_use_until_the_agent_stops(tenant: Tenant) -> None:
    first = tenant.start(name="dup")
    with pytest.raises(ApiError) as exc:
        tenant.start(name="dup", agent_rtc_uid="77")
    assert error_of(exc) == (409, "TaskConflict")
    assert exc.value.body["agent_id"] == first  # type: ignore[index]
    tenant.sdk.agents.stop(tenant.appid, first)
    with pytest.raises(ApiError):
        tenant.start(name="dup", agent_rtc_uid="77")  # still STOPPING
    tenant.advance(1)
    assert tenant.start(name="dup", agent_rtc_uid="77") != first


def test_409_for_an_agent_uid_in_use_in_the_channel(tenant: Tenant) -> None:
    tenant.start(name="a")
    with pytest.raises(ApiError) as exc:
        tenant.start(name="b")
    assert error_of(exc) == (409, "TaskConflict")
    assert tenant.start(name="c", channel="other")


def test_422_concurrency_limit(tenant: Tenant) -> None:
    tenant.server.world.agora.update_project(tenant.appid, {"concurrency_limit": 2})
    tenant.start(name="a", agent_rtc_uid="1")
    tenant.start(name="b", agent_rtc_uid="2")
    with pytest.raises(ApiError) as exc:
        tenant.start(name="c", agent_rtc_uid="3")
    assert error_of(exc) == (422, "ConcurrencyLimitExceeded")


def test_every_2xx_is_json_the_sdk_parses(tenant: Tenant) -> None:
    agent_id = tenant.start()
    for path, method in [("interrupt", "POST"), ("leave", "POST")]:
        r = httpx.request(method, f"{tenant.base}/agents/{agent_id}/{path}", headers=tenant.auth)
        assert r.status_code == 200 and r.json() == ({} if path == "leave" else r.json())


def test_an_unknown_cursor_is_an_empty_last_page(tenant: Tenant) -> None:
    tenant.start()
    page = tenant.sdk.agents.list(tenant.appid, cursor="1NT29XGONE")
    assert page.items == [] and page.response.meta.cursor == "" and page.response.meta.total == 1
