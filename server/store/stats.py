"""What the metrics read from the database at scrape time, in one read."""

from .tx import Tx


async def gauges(tx: Tx) -> tuple[int, int | None]:
    """Deliveries (webhooks and mail) still to be made, and the database's size in bytes
    where the engine reports it (PostgreSQL); None on SQLite, whose size is its files'."""
    if tx.dialect == "postgres":
        row = await tx.row(
            """SELECT (SELECT COUNT(*) FROM deliveries WHERE status = 'pending'),
                      pg_database_size(current_database())"""
        )
        return int(row[0]), int(row[1])
    pending = await tx.value("SELECT COUNT(*) FROM deliveries WHERE status = 'pending'")
    return int(pending), None
