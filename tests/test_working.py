"""Working memory in a real diskcache directory: restart, isolation, deletion, merging.
(The TTL and the rest, on both backends: tests/test_working_redis.py.)"""

from pathlib import Path

from framework.memory.working import ConversationLine, DiskcacheWorkingStore, ToolRecord, WorkingState


def state(user: str, session: str, goal: str) -> WorkingState:
    return WorkingState(
        user_id=user,
        session_id=session,
        goal=goal,
        writes=2,
        tool_history=[
            ToolRecord(name="deploy_to_staging", arguments={"v": "1.4.2"}, ok=True, decision="allow")
        ],
        conversation=[ConversationLine(role="user", content="ship it")],
    )


def test_state_survives_a_restart(tmp_path: Path) -> None:
    first = DiskcacheWorkingStore(tmp_path / "wm", ttl_s=60)
    saved = state("ada", "s1", "ship 1.4.2")
    first.save(saved)
    first.close()

    loaded = DiskcacheWorkingStore(tmp_path / "wm", ttl_s=60).load("ada", "s1")
    assert loaded == saved
    assert loaded.succeeded("deploy_to_staging") and not loaded.succeeded("run_smoke_tests")


def test_unknown_session_starts_empty(tmp_path: Path) -> None:
    fresh = DiskcacheWorkingStore(tmp_path, ttl_s=60).load("ada", "new")
    assert (fresh.user_id, fresh.session_id, fresh.goal, fresh.tool_history) == ("ada", "new", None, [])


def test_two_sessions_of_one_user_are_separate(tmp_path: Path) -> None:
    wm = DiskcacheWorkingStore(tmp_path, ttl_s=60)
    wm.save(state("ada", "s1", "first"))
    wm.save(state("ada", "s2", "second"))
    assert (wm.load("ada", "s1").goal, wm.load("ada", "s2").goal) == ("first", "second")
    wm.clear("ada", "s1")
    assert (wm.load("ada", "s1").goal, wm.load("ada", "s2").goal) == (None, "second")


def test_delete_user_removes_only_that_users_sessions(tmp_path: Path) -> None:
    wm = DiskcacheWorkingStore(tmp_path, ttl_s=60)
    for session in ("s1", "s2"):
        wm.save(state("ada", session, "ada's"))
    wm.save(state("adam", "s1", "adam's"))  # a user whose id starts with "ada"
    assert wm.delete_user("ada") == 2
    assert wm.load("ada", "s1").goal is None and wm.load("ada", "s2").goal is None
    assert wm.load("adam", "s1").goal == "adam's"


def test_ids_containing_colons_do_not_collide(tmp_path: Path) -> None:
    wm = DiskcacheWorkingStore(tmp_path, ttl_s=60)
    wm.save(state("team:ada", "s1", "ada's plan"))
    assert wm.load("team", "ada:s1").goal is None
    assert wm.delete_user("team") == 0


def test_two_stale_copies_both_land(tmp_path: Path) -> None:
    """Two states built without loading (no merge base) are added together, not overwritten."""
    wm = DiskcacheWorkingStore(tmp_path, ttl_s=60)
    first = WorkingState(user_id="ada", session_id="s1", goal="ship", completed_steps=["build"])
    second = WorkingState(user_id="ada", session_id="s1", pending_actions=["deploy"], writes=1)
    wm.save(first)
    wm.save(second)
    loaded = wm.load("ada", "s1")
    assert (loaded.goal, loaded.completed_steps, loaded.pending_actions, loaded.writes) == (
        "ship",
        ["build"],
        ["deploy"],
        1,
    )
    assert loaded.version == 2 and loaded == second  # the caller's object holds the merged state


def test_saving_trims_the_conversation_and_tool_history(tmp_path: Path) -> None:
    from framework.memory.working import MAX_CONVERSATION_LINES, MAX_TOOL_RECORDS

    wm = DiskcacheWorkingStore(tmp_path, ttl_s=60)
    s = WorkingState(user_id=None, session_id="s1")
    s.conversation = [ConversationLine(role="user", content=str(i)) for i in range(100)]
    s.tool_history = [ToolRecord(name="t", ok=True, decision="allow") for _ in range(250)]
    wm.save(s)
    loaded = wm.load(None, "s1")
    assert len(loaded.conversation) == MAX_CONVERSATION_LINES and loaded.conversation[-1].content == "99"
    assert len(loaded.tool_history) == MAX_TOOL_RECORDS
