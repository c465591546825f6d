"""Async: the same models and Session from asyncio, with the a-prefixed twins.

``acreate``, ``aget``, ``asave``, ``arefresh``, ``acount``, ``afirst``, ``aexists``,
``aget_or_create``, ``adelete`` and ``async for`` over a QuerySet (one page at a time), inside
``async with session``. Calls run concurrently with ``asyncio.gather``. Needs the async extra
(``pip install 'dataforce-orm[async]'``, which brings httpx).

    python examples/04_async.py
"""

from __future__ import annotations

import asyncio
import uuid

from dataforce_orm import Collection, CollectionType, Session


async def main() -> None:
    prefix = f"ex-async-{uuid.uuid4().hex[:6]}-"
    async with Session():  # current for this task; closes its connections at the end
        ours = Collection.objects.filter(name__startswith=prefix)
        try:
            made = await asyncio.gather(*(
                Collection.objects.acreate(name=f"{prefix}run-{i}", tags=["sweep"],
                                           collection_type=CollectionType.EXPERIMENT)
                for i in range(4)))
            print("created concurrently  ", len(made))

            best, created = await Collection.objects.aget_or_create(
                name=prefix + "best", defaults={"collection_type": CollectionType.MODEL})
            print("aget_or_create        ", "created" if created else "found",
                  best.name.removeprefix(prefix))

            run = await Collection.objects.aget(name=prefix + "run-2")
            run.tags = [*(run.tags or []), "winner"]
            await run.asave()
            await best.arefresh()
            print("asave                 ", run.name.removeprefix(prefix), run.tags)

            print("acount                ", await ours.acount())
            print("tagged winner exists  ", await ours.filter(tags__contains="winner").aexists())
            first = await ours.order_by("name").afirst()
            print("afirst by name        ", first and first.name.removeprefix(prefix))

            seen = [c.name async for c in ours.order_by("name")]
            print(f"async for saw {len(seen)} collections")
        finally:
            print("adelete()             ", await ours.adelete(), "deleted")


if __name__ == "__main__":
    asyncio.run(main())
