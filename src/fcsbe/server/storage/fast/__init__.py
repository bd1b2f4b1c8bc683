"""The accept path's fast statements, in one place, each with its plain twin.

An FS accept runs a handful of statements per request, and through SQLAlchemy each one costs
more CPU than the database spends on it. The statements of that path live here:

- `driver`: running an SQLAlchemy Core statement compiled once for asyncpg on the driver
  connection of the session's own transaction (PostgreSQL), so atomicity is the session's;
- `twin`: a fast statement and its plain (SQLAlchemy Core) twin, picked per session: the plain
  one on SQLite, on other drivers, and on a session told to `use_plain` (tests compare both);
- `accept`: the accept path's queries (credential, signature requirement, idempotency key, the
  received FS with its transition, event and key row) and the per-transaction facts they share
  (the caller's signature-requiring contracts, the key's advisory lock);
- `batching`: one task serving waiting requests in batches (what the next two share);
- `group_commit`: one transaction, one durable commit, for the write sets of many requests;
- `accept_many`: a batch of accepts as one statement over arrays (PostgreSQL);
- `group_read`: the credential look-ups of concurrent accepts as one statement (PostgreSQL);
- `lite_reader`: SQLite reads beside the single writer;
- `warm`: compiling all of these at start-up rather than on the first request.
"""
