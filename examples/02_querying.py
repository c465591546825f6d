"""Querying: filter, exclude, Q objects, ordering, slicing, count/exists/first, get, iterator.

QuerySets are lazy and chainable; each lookup is checked exactly on the client, and the
server's ``search`` / ``types`` parameters narrow what is fetched where that is safe. This
script makes six collections under a random name prefix, queries them, then deletes them.

    python examples/02_querying.py
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from dataforce_orm import Collection, CollectionType, Q, Session

SAMPLES = [
    ("cats", CollectionType.DATASET, ["images", "prod"]),
    ("dogs", CollectionType.DATASET, ["images"]),
    ("reviews", CollectionType.DATASET, ["text", "prod"]),
    ("vit-small", CollectionType.MODEL, ["images", "prod"]),
    ("bert-base", CollectionType.MODEL, ["text"]),
    ("lr-sweep", CollectionType.EXPERIMENT, None),
]


def main() -> None:
    prefix = f"ex-query-{uuid.uuid4().hex[:6]}-"

    def names(objs: Iterable[Collection]) -> str:
        return ", ".join(c.name.removeprefix(prefix) for c in objs)

    with Session():
        for name, kind, tags in SAMPLES:
            Collection.objects.create(name=prefix + name, collection_type=kind, tags=tags)
        ours = Collection.objects.filter(name__startswith=prefix)  # nothing is sent yet
        try:
            print("count                 ", ours.count())
            print("datasets              ", names(ours.filter(collection_type="dataset")))
            print("tagged prod           ", names(ours.filter(tags__contains="prod")))
            print("images AND prod       ", names(ours.filter(tags__contains=["images", "prod"])))
            print("images OR text        ", names(ours.filter(tags__overlap=["images", "text"])))
            print("not a dataset         ", names(ours.exclude(collection_type="dataset")))
            print("untagged              ", names(ours.filter(tags__isnull=True)))
            print("model OR prod (Q)     ",
                  names(ours.filter(Q(collection_type=CollectionType.MODEL)
                                    | Q(tags__contains="prod"))))
            print("name ends in 'S' (i)  ", names(ours.filter(name__iendswith="S")))
            print("by name               ", names(ours.order_by("name")))
            print("newest two            ", names(ours.order_by("-created_at")[:2]))
            print("by type, then name    ", names(ours.order_by("collection_type", "name")))
            first = ours.order_by("name").first()
            print("first by name         ", first and first.name.removeprefix(prefix))
            print("any experiments?      ", ours.filter(collection_type="experiment").exists())

            vit = Collection.objects.get(name=prefix + "vit-small")  # exact name, or id=...
            print("get(name=...)         ", vit.name.removeprefix(prefix), vit.tags)
            try:
                Collection.objects.get(name=prefix + "nope")
            except Collection.DoesNotExist:
                print("get(name='nope')       DoesNotExist")

            obj, created = Collection.objects.get_or_create(
                name=prefix + "cats", defaults={"collection_type": CollectionType.DATASET})
            print("get_or_create(cats)   ", "created" if created else "found existing")

            streamed = sum(1 for _ in ours.iterator())  # one page at a time, no caching
            print("iterator()            ", streamed, "streamed")
            by_id = ours.in_bulk([vit.id or "", obj.id or ""])
            print("in_bulk(ids)          ", names(by_id.values()))
        finally:
            print(f"cleaned up {ours.delete()} collections")


if __name__ == "__main__":
    main()
