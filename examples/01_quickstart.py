"""Quickstart: connect, create a collection, find it again, edit its tags, delete it.

Shows the active-record basics: ``Session`` from the environment, ``Collection(...).save()``,
``Collection.objects.get(name=...)``, in-place tag edits picked up by ``save()``, ``refresh()``
and ``delete()``.

Run it against the platform in DFS_API_KEY / DFS_BASE_URL / DFS_ORGANIZATION / DFS_ORBIT, or
against a local server (``dataforce-orm serve --port 8000`` prints the lines to export)::

    python examples/01_quickstart.py
"""

from __future__ import annotations

import uuid

from dataforce_orm import Collection, CollectionType, Session


def main() -> None:
    name = f"quickstart-{uuid.uuid4().hex[:6]}"
    with Session() as session:  # DFS_* (or LUML_*) settings; current inside this block
        print(f"session   {session!r}")

        c = Collection(name=name, description="My first collection",
                       collection_type=CollectionType.DATASET, tags=["ml"])
        c.save()  # POST: id, orbit_id and created_at are filled in
        print(f"created   {c.name} ({c.collection_type}) id={c.id}")
        try:
            found = Collection.objects.get(name=name)  # or get(id=...)
            print(f"found     {found.name}; same collection: {found == c}")

            c.tags.append("prod")  # in-place edits count as changes
            c.save()  # sends the update; a save() with nothing changed sends nothing
            found.refresh()  # reload from the server
            print(f"updated   tags={found.tags}")
        finally:
            c.delete()  # the object becomes unsaved again
        print(f"deleted   {name}; saved: {c.is_saved}")


if __name__ == "__main__":
    main()
