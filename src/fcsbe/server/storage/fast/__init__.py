"""The accept path's fast statements, in one place, each with its plain twin.

An FS accept runs a handful of statements per request, and through SQLAlchemy each one costs
more CPU than the database spends on it. The statements of that path live here:

- `driver`: running an SQLAlchemy Core statement compiled once for asyncpg on the driver
  connection of the session's own transaction (PostgreSQL), so atomicity is the session's;
- `twin`: a fast statement and its plain (SQLAlchemy Core) twin, picked per session: the plain
  one on SQLite, on other drivers, and on a session told to `use_plain` (tests compare both);
- `credentials`: the request's credential and whether its contract requires signed requests,
  read with the other facts the accept needs where it can (kept for the transaction only);
- `keys`: the idempotency key's look-up, storage and advisory lock;
- `accept`: the received FS with its transition, event and key row, and `TWINS`, every fast
  statement of the path;
- `batching`: one task serving waiting requests in batches (what the next two share);
- `group_commit`: one transaction, one durable commit, for the write sets of many requests;
- `accept_many`: a batch of accepts as one statement over arrays (PostgreSQL);
- `group_read`: the credential look-ups of concurrent accepts as one statement (PostgreSQL);
- `lite_reader`: SQLite reads beside the single writer;
- `lite_write`: a batch of accepts on SQLite in one hop, on a connection of its own;
- `lite_thread`: the connection on a thread of its own that both share;
- `warm`: compiling all of these at start-up rather than on the first request.
"""
