"""Schemathesis hooks for formfleet's contract run (test/reliability/api-contract.test.ts).

One hook, for the one value the document cannot spell as a schema: `cursor`. The document says a cursor is
the `nextCursor` of a previous page (opaque; anything else is refused with 400). A string Schemathesis makes
up to fit the cursor's pattern is not one the API gave out, so in a *positive* case (a request the document
calls valid) the hook puts in its place a cursor the API could have given out: the base64url JSON keyset
position that functions/api/cursor.ts writes for that list (any position is a valid place to page from,
whether or not a row sits there). It is derived from the generated value, so runs stay reproducible by seed,
and every real cursor format is exercised, from year 1 to 9999. Negative cases keep their made-up cursors,
which the API must refuse.
"""

import base64
import json
import random
import uuid

import schemathesis


def _encode(key):
    raw = json.dumps(key, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _timestamp(rnd):
    # Postgres prints created_at in UTC with microseconds: YYYY-MM-DDTHH:MI:SS.USZ, years 1 to 9999.
    year = rnd.randint(1, 9999)
    month = rnd.randint(1, 12)
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    days = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (
        year,
        month,
        rnd.randint(1, days),
        rnd.randint(0, 23),
        rnd.randint(0, 59),
        rnd.randint(0, 59),
        rnd.randint(0, 999_999),
    )


def _directory_id(rnd):
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    rest = "".join(rnd.choice(alphabet + "-") for _ in range(rnd.randint(0, 62)))
    return rnd.choice(alphabet) + rest


# The key each list route pages by (functions/api/{jobs,directories,submissions,tasks,webhooks}.ts).
KEYS = {
    "/v1/jobs": lambda rnd: [_timestamp(rnd), str(uuid.UUID(int=rnd.getrandbits(128)))],
    "/v1/directories": lambda rnd: [_directory_id(rnd)],
    "/v1/submissions": lambda rnd: [str(rnd.randrange(10**18))],
    # functions/api/webhooks.ts: endpoints and deliveries, newest first by (created_at, id).
    "/v1/webhooks": lambda rnd: [_timestamp(rnd), str(uuid.UUID(int=rnd.getrandbits(128)))],
    "/v1/webhooks/{id}/deliveries": lambda rnd: [_timestamp(rnd), str(uuid.UUID(int=rnd.getrandbits(128)))],
    "/v1/tasks": lambda rnd: [_timestamp(rnd), str(uuid.UUID(int=rnd.getrandbits(128)))],
}


@schemathesis.hook
def map_case(context, case):
    meta = case.meta
    key = KEYS.get(case.operation.path)
    if key is None or meta is None or meta.generation.mode.is_negative or not case.query:
        return case
    if "cursor" in case.query:
        case.query["cursor"] = _encode(key(random.Random(str(case.query["cursor"]))))
    return case
