"""dataforce_orm: a Django-flavoured ORM for the DataForce (luml) platform's collections."""

__all__: list[str] = []
