"""The track routes (the model registry): tracks, their stages and entries, with the
platform's rules and quirks.

``PATCH``/``DELETE`` of a track check only that the orbit is in the organization, not that the
track is in that orbit (the platform's quirk); reading an unknown entry, or the holder of an
empty stage through ``by-stage``, is the plain-text 500 (the platform's response model is not
optional); the batch delete skips ids that are not entries of the track.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from ._access import Access
from ._registry_store import RegistryStore
from ._registry_validation import (
    validate_by_stage_query,
    validate_entries_delete,
    validate_entries_query,
    validate_entry_create,
    validate_entry_update,
    validate_force_query,
    validate_track_create,
    validate_track_update,
    validate_tracks_query,
)
from ._routing import ORBIT, Route
from ._store import Store
from ._validation import ErrorList
from ._wire import HttpError, Request, Response, internal_error, json_response, no_content

TRACKS = ORBIT + "/tracks"
TRACK = TRACKS + "/{track_id}"
ENTRIES = TRACK + "/entries"


def _query(req: Request) -> list[tuple[str, str]]:
    return parse_qsl(req.query, keep_blank_values=True)


class TrackRoutes(Access):
    """The 13 track routes, on the registry tables."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.registry = RegistryStore(store)

    def routes(self) -> list[Route]:
        """This group's part of the route table."""
        return [
            Route("POST", TRACKS, self._create_track),
            Route("GET", TRACKS, self._list_tracks),
            Route("GET", TRACK, self._get_track),
            Route("PATCH", TRACK, self._update_track),
            Route("DELETE", TRACK, self._delete_track),
            Route("GET", TRACK + "/stages", self._list_stages),
            Route("POST", ENTRIES, self._create_entry),
            Route("GET", ENTRIES, self._list_entries),
            Route("DELETE", ENTRIES, self._delete_entries, reads_body=True),
            Route("GET", ENTRIES + "/by-stage", self._get_entry_by_stage),
            Route("GET", ENTRIES + "/{entry_id}", self._get_entry),
            Route("PATCH", ENTRIES + "/{entry_id}", self._update_entry),
            Route("DELETE", ENTRIES + "/{entry_id}", self._delete_entry),
        ]

    def _begin(self, user: str, ids: dict[str, str], errors: ErrorList, action: str) -> None:
        self._raise_422(errors)
        self._allow(user, ids, "track", action)

    def _track_here(self, ids: dict[str, str]) -> None:
        """404 unless the track is in the addressed orbit."""
        if self.registry.track_orbit(ids["track_id"]) != ids["orbit_id"]:
            raise HttpError(404, "Track not found")

    # -- tracks ---------------------------------------------------------------------------------

    def _create_track(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        fields, body_errors = validate_track_create(body)
        self._begin(user, ids, errors + body_errors, "create")
        assert fields is not None
        return json_response(200, self.registry.create_track(ids["orbit_id"], fields))

    def _list_tracks(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        query, query_errors = validate_tracks_query(_query(req))
        self._begin(user, ids, errors + query_errors, "list")
        return json_response(200, self.registry.list_tracks(ids["orbit_id"], query))

    def _get_track(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        self._begin(user, ids, errors, "read")
        self._track_here(ids)
        return json_response(200, self.registry.track(ids["track_id"]))

    def _update_track(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        fields, body_errors = validate_track_update(body)
        self._begin(user, ids, errors + body_errors, "update")
        assert fields is not None
        updated = self.registry.update_track(ids["track_id"], fields)  # any orbit: the quirk
        if updated is None:
            raise HttpError(404, "Track not found")
        return json_response(200, updated)

    def _delete_track(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        self._begin(user, ids, errors, "delete")
        if not self.registry.delete_track(ids["track_id"]):  # any orbit: the quirk
            raise HttpError(404, "Track not found")
        return no_content()

    def _list_stages(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        self._begin(user, ids, errors, "read")
        self._track_here(ids)
        return json_response(200, self.registry.stages(ids["track_id"]))

    # -- entries --------------------------------------------------------------------------------

    def _create_entry(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        fields, body_errors = validate_entry_create(body)
        self._begin(user, ids, errors + body_errors, "create")
        assert fields is not None
        self._track_here(ids)
        entry = self.registry.create_entry(
            ids["track_id"], ids["orbit_id"], fields["artifact_id"], fields["stage_id"], user
        )
        return json_response(200, entry)

    def _list_entries(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        query, query_errors = validate_entries_query(_query(req))
        self._begin(user, ids, errors + query_errors, "read")
        self._track_here(ids)
        return json_response(200, self.registry.list_entries(ids["track_id"], query))

    def _get_entry_by_stage(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        stage_id, query_errors = validate_by_stage_query(_query(req))
        self._begin(user, ids, errors + query_errors, "read")
        assert stage_id is not None
        self._track_here(ids)
        if self.registry.stage_track(stage_id) != ids["track_id"]:
            raise HttpError(404, "Stage not found")
        holder = self.registry.entry_by_stage(ids["track_id"], stage_id)
        if holder is None:  # None against a non-optional response model
            return internal_error()
        return json_response(200, holder)

    def _get_entry(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        self._begin(user, ids, errors, "read")
        self._track_here(ids)
        entry = self.registry.entry(ids["entry_id"])
        if entry is None:  # None against a non-optional response model
            return internal_error()
        if entry["track_id"] != ids["track_id"]:
            raise HttpError(404, "Entry not found")
        return json_response(200, entry)

    def _update_entry(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        force, query_errors = validate_force_query(_query(req))
        fields, body_errors = validate_entry_update(body)
        self._begin(user, ids, errors + query_errors + body_errors, "update")
        assert fields is not None
        entry = self.registry.update_entry(
            ids["track_id"], ids["entry_id"], fields["stage_id"], force
        )
        return json_response(200, entry)

    def _delete_entry(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        self._begin(user, ids, errors, "delete")
        self.registry.delete_entry(ids["track_id"], ids["entry_id"])
        return no_content()

    def _delete_entries(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        fields, body_errors = validate_entries_delete(body)
        self._begin(user, ids, errors + body_errors, "delete")
        assert fields is not None
        self._track_here(ids)
        self.registry.delete_entries(ids["track_id"], fields["entry_ids"])
        return no_content()
