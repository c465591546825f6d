"""Two (or more) sessions editing the same collection: both changes kept, or a ConflictError;
never a silent overwrite. End to end against LocalServer, sync and async."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from typing import Any

import pytest
from parity import MakeSession

from dataforce_orm import Collection, ConflictError, RetryPolicy, Session
from dataforce_orm.testing import LocalServer

FIELDS = ("name", "description", "tags")


@pytest.fixture
def other(make_session: MakeSession, server: LocalServer, orbit_id: str) -> Iterator[Session]:
    """A second user, a member of the test's orbit, with a session of its own."""
    user = server.add_user("colleague")
    server.add_member(server.organization_id, user.id, "member")
    server.add_orbit_member(orbit_id, user.id, "member")
    s = make_session(api_key=user.api_key, retry=RetryPolicy(attempts=1))
    yield s
    s.close()


def _row(server: LocalServer, orbit_id: str) -> tuple[Any, ...]:
    (row,) = server.collection_rows(orbit_id)
    return row["name"], row["description"], row["tags"]


def _pair(session: Session, other: Session) -> tuple[Collection, Collection]:
    made = Collection.objects.create(name="shared", description="d0", collection_type="model",
                                     tags=["t0"])
    return (Collection.objects.using(session).get(id=made.id),
            Collection.objects.using(other).get(id=made.id))


def _save(obj: Collection, mode: str, **kw: Any) -> None:
    if mode == "sync":
        obj.save(**kw)
    else:
        asyncio.run(obj.asave(**kw))


MODES = ["sync", "async"]


@pytest.mark.parametrize("mode", MODES)
def test_different_fields_are_both_kept(session: Session, other: Session, server: LocalServer,
                                        orbit_id: str, mode: str) -> None:
    a, b = _pair(session, other)
    a.description = "from a"
    b.tags.append("from b")  # in place
    _save(a, mode)
    _save(b, mode)
    assert _row(server, orbit_id) == ("shared", "from a", ["t0", "from b"])
    # b's object took the server's state, a's edit included
    assert (b.name, b.description, b.tags) == ("shared", "from a", ["t0", "from b"])
    a.name = "renamed by a"
    _save(a, mode)  # a never saw b's tags: still kept
    assert _row(server, orbit_id) == ("renamed by a", "from a", ["t0", "from b"])
    assert a.tags == ["t0", "from b"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("field", FIELDS)
def test_same_field_is_a_conflict(session: Session, other: Session, server: LocalServer,
                                  orbit_id: str, mode: str, field: str) -> None:
    a, b = _pair(session, other)
    values = {"name": ("name a", "name b"), "description": ("desc a", "desc b"),
              "tags": (["a"], ["b"])}[field]
    setattr(a, field, values[0])
    setattr(b, field, values[1])
    _save(a, mode)
    after_a = _row(server, orbit_id)
    with pytest.raises(ConflictError) as info:
        _save(b, mode)
    assert info.value.fields == [field]
    assert field in str(info.value) and info.value.status == 409
    assert _row(server, orbit_id) == after_a  # b overwrote nothing
    assert getattr(b, field) == values[1] and b.changed_fields() == [field]  # b's edit kept
    # the way out the error names: refresh and re-apply, or force
    _save(b, mode, force=True)
    assert _row(server, orbit_id)[FIELDS.index(field)] == values[1]


def test_conflict_on_one_field_blocks_the_whole_save(session: Session, other: Session,
                                                     server: LocalServer, orbit_id: str) -> None:
    a, b = _pair(session, other)
    a.name = "a"
    a.save()
    b.name, b.description = "b", "b's description"
    with pytest.raises(ConflictError) as info:
        b.save()
    assert info.value.fields == ["name"]
    assert _row(server, orbit_id) == ("a", "d0", ["t0"])  # not even the description
    b.save(update_fields=["description"])  # the field that does not clash
    assert _row(server, orbit_id) == ("a", "b's description", ["t0"])
    assert b.changed_fields() == ["name"]  # still pending


def test_same_value_on_both_sides_is_not_a_conflict(session: Session, other: Session,
                                                    server: LocalServer, orbit_id: str) -> None:
    a, b = _pair(session, other)
    a.tags = ["same"]
    b.tags = ["same"]
    a.save()
    b.save()
    assert _row(server, orbit_id) == ("shared", "d0", ["same"])


def test_refresh_then_reapply(session: Session, other: Session, server: LocalServer,
                              orbit_id: str) -> None:
    a, b = _pair(session, other)
    a.description = "a"
    a.save()
    b.description = "b"
    with pytest.raises(ConflictError):
        b.save()
    b.refresh(discard=True)
    assert b.description == "a"
    b.description = "b after reading a"
    b.save()
    assert _row(server, orbit_id) == ("shared", "b after reading a", ["t0"])


def test_saving_a_collection_deleted_meanwhile(session: Session, other: Session,
                                               server: LocalServer, orbit_id: str) -> None:
    a, b = _pair(session, other)
    a.delete()
    b.name = "still here?"
    with pytest.raises(Collection.DoesNotExist):
        b.save()
    assert server.collection_rows(orbit_id) == []  # not re-created


@pytest.mark.parametrize("seed", range(4))
def test_random_interleavings_match_the_model(session: Session, other: Session,
                                              server: LocalServer, orbit_id: str,
                                              seed: int) -> None:
    """Three objects for one collection (two users), random edits, saves, refreshes, sync and
    async: after every step the server holds exactly what the merge rules say."""
    rng = random.Random(seed)
    made = Collection.objects.create(name="n", description="", collection_type="model",
                                     tags=None)
    objs = [Collection.objects.using(s).get(id=made.id) for s in (session, other, session)]
    server_state = {"name": "n", "description": "", "tags": None}
    loaded = [dict(server_state) for _ in objs]  # what each object last saw of the server
    conflicts = saves = 0
    for step in range(60):
        i = rng.randrange(len(objs))
        obj = objs[i]
        roll = rng.random()
        if roll < 0.5:  # a local edit
            field = rng.choice(FIELDS)
            value: Any = {"name": f"n{step}", "description": rng.choice(["", f"d{step}"]),
                          "tags": rng.choice([None, [], [f"t{step}"], ["x"]])}[field]
            if field == "tags" and obj.tags is not None and rng.random() < 0.5:
                obj.tags.append(f"t{step}")
            else:
                setattr(obj, field, value)
            continue
        if roll < 0.9:  # a save
            local = {f: obj._lookup_value(f) for f in FIELDS}  # (a null list shows as [])
            changed = [f for f in FIELDS if local[f] != loaded[i][f]]
            clash = [f for f in changed
                     if server_state[f] != loaded[i][f] and server_state[f] != local[f]]
            mode = rng.choice(MODES)
            if clash:
                with pytest.raises(ConflictError) as info:
                    _save(obj, mode)
                assert info.value.fields == clash
                conflicts += 1
            else:
                _save(obj, mode)
                saves += 1
                if changed:
                    server_state.update({f: local[f] for f in changed})
                    loaded[i] = dict(server_state)
                assert {f: obj._lookup_value(f) for f in FIELDS} == (
                    server_state if changed else local)
        else:  # a refresh, dropping local edits
            obj.refresh(discard=True)
            loaded[i] = dict(server_state)
        assert dict(zip(FIELDS, _row(server, orbit_id), strict=True)) == server_state, step
    assert conflicts and saves  # both paths were taken
