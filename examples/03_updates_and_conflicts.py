"""Updates and conflicts: what save() sends, merging with others' edits, and ConflictError.

The server writes name, description and tags together, so ``save()`` reads the server's
current state and writes back only what *you* changed; a field changed both here and on the
server since you loaded it raises ``ConflictError`` instead of silently overwriting. Also
shows ``update_fields``, ``save(force=True)``, ``refresh(discard=True)`` and bulk
``QuerySet.update()``.

    python examples/03_updates_and_conflicts.py
"""

from __future__ import annotations

import uuid

from dataforce_orm import Collection, CollectionType, ConflictError, Session, ValidationError


def main() -> None:
    prefix = f"ex-update-{uuid.uuid4().hex[:6]}-"
    me, teammate = Session(), Session()  # two independent clients of the same orbit
    with me:
        c = Collection.objects.create(name=prefix + "model", description="v1",
                                      collection_type=CollectionType.MODEL, tags=["ml"])
        try:
            # In-place edits are changes; reading is not.
            c.tags.append("candidate")
            print("changed fields        ", c.changed_fields())
            c.save()
            print("saved tags            ", c.tags)
            c.save()  # nothing changed: no request at all

            # Someone else edits the description; our tag edit merges with it.
            theirs = Collection.objects.using(teammate).get(id=c.id)
            theirs.description = "v2 (teammate)"
            theirs.save()
            c.tags.append("reviewed")
            c.save()
            print("merged                ", c.description, c.tags)

            # Both sides edit the description: a conflict, not a lost update.
            theirs.description = "v3 (teammate)"
            theirs.save()
            c.description = "v3 (me)"
            try:
                c.save()
            except ConflictError as exc:
                print("ConflictError caught: ", ", ".join(exc.fields))
            c.refresh(discard=True)  # take theirs...
            print("after refresh         ", c.description)
            c.description = "v4 (me, on purpose)"
            c.save(force=True)  # ...or overwrite without checking
            print("forced                ", c.description)

            # Only some of the pending edits.
            c.name, c.description = prefix + "model-renamed", "v5"
            c.save(update_fields=["name"])
            print("update_fields=[name]  ", c.name.removeprefix(prefix),
                  "| still pending:", c.changed_fields())
            c.refresh(discard=True)

            # The type is fixed at creation: a clear error, before any request.
            try:
                c.collection_type = CollectionType.DATASET
                c.save()
            except ValidationError as exc:
                print("ValidationError       ", exc)
            c.collection_type = CollectionType.MODEL

            # Bulk: set fields on every match (each saved with the same merge rules).
            n = Collection.objects.filter(name__startswith=prefix).update(tags=["archived"])
            c.refresh()
            print(f"bulk update            {n} collection(s); tags now {c.tags}")
        finally:
            Collection.objects.filter(name__startswith=prefix).delete()
            teammate.close()


if __name__ == "__main__":
    main()
