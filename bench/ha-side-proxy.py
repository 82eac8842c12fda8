"""HA-side serialising work per state change, in Python as Home Assistant does it (a proxy).

No Home Assistant runs on this machine, so this replays the simulator's state changes through
small stand-ins for HA's State/Event objects and times the work each subscription makes HA do,
following the code paths read in HA's source (see docs/architecture.md, "What we cost Home
Assistant"):

  0.96      subscribe_events in HA 0.96: per subscriber, Event/State.as_dict() rebuilt (attributes
            copied) and json.dumps with a JSONEncoder whose default() handles datetimes and
            as_dict objects (websocket_api/http.py _writer: send_json(message, dumps=JSON_DUMP)).
  events    subscribe_events in current HA: new_state's JSON made once and kept on the State
            (as_dict_json), old_state's reused from the change before, the event's JSON made
            once (Event.json_fragment) and the message cached for every subscriber.
  entities  subscribe_entities in current HA: the diff of old and new state (Python == on
            attributes), serialised once with orjson and cached for every subscriber.
  join      per subscriber, both: the cached bytes joined with the subscription id.

orjson here may be older than HA's (no orjson.Fragment before 3.9), so pre-serialised parts are
joined as bytes, which is what a Fragment amounts to. Prints one JSON object: µs per change.
Input: a JSON-lines file of state_changed events (bench/wire-bytes.ts writes it).
"""

import json
import sys
import time
from datetime import datetime

import orjson


class Context:
    def __init__(self, d):
        self.id, self.parent_id, self.user_id = d["id"], d["parent_id"], d["user_id"]

    def as_dict(self):
        return {"id": self.id, "parent_id": self.parent_id, "user_id": self.user_id}


class State:
    def __init__(self, d):
        self.entity_id, self.state, self.attributes = d["entity_id"], d["state"], d["attributes"]
        self.last_changed = datetime.fromisoformat(d["last_changed"])
        self.last_updated = datetime.fromisoformat(d["last_updated"])
        self.last_reported = datetime.fromisoformat(d.get("last_reported", d["last_updated"]))
        self.last_updated_timestamp = self.last_updated.timestamp()
        self.context = Context(d["context"])
        self.json = None  # current HA: as_dict_json, cached on the State

    def as_dict(self):  # 0.96: a new dict per call, attributes copied, datetimes left to the encoder
        return {
            "entity_id": self.entity_id,
            "state": self.state,
            "attributes": dict(self.attributes),
            "last_changed": self.last_changed,
            "last_updated": self.last_updated,
            "context": self.context.as_dict(),
        }

    def as_dict_json(self):
        if self.json is None:
            lc = self.last_changed.isoformat()
            self.json = orjson.dumps(
                {
                    "entity_id": self.entity_id,
                    "state": self.state,
                    "attributes": self.attributes,
                    "last_changed": lc,
                    "last_reported": lc if self.last_reported == self.last_changed else self.last_reported.isoformat(),
                    "last_updated": lc if self.last_updated == self.last_changed else self.last_updated.isoformat(),
                    "context": self.context.as_dict(),
                }
            )
        return self.json


class Event:
    def __init__(self, d, old, new):
        self.entity_id, self.old, self.new = d["data"]["entity_id"], old, new
        self.time_fired = datetime.fromisoformat(d["time_fired"])
        self.context = Context(d["context"])

    def as_dict(self):
        return {
            "event_type": "state_changed",
            "data": {"entity_id": self.entity_id, "old_state": self.old, "new_state": self.new},
            "origin": "LOCAL",
            "time_fired": self.time_fired,
            "context": self.context.as_dict(),
        }


class Encoder096(json.JSONEncoder):
    def default(self, o):
        if isinstance(o, datetime):
            return o.isoformat()
        if hasattr(o, "as_dict"):
            return o.as_dict()
        return json.JSONEncoder.default(self, o)


def events_now(ev):
    old = ev.old.as_dict_json() if ev.old is not None else b"null"
    new = ev.new.as_dict_json() if ev.new is not None else b"null"
    event = b"".join(
        (
            b'{"event_type":"state_changed","data":{"entity_id":',
            orjson.dumps(ev.entity_id),
            b',"old_state":',
            old,
            b',"new_state":',
            new,
            b'},"origin":"LOCAL","time_fired":',
            orjson.dumps(ev.time_fired.isoformat()),
            b',"context":',
            orjson.dumps(ev.context.as_dict()),
            b"}",
        )
    )
    return b'{"type":"event","event":' + event  # the cached message, without its id and last "}"


def compressed(s):
    ctx = s.context
    out = {
        "s": s.state,
        "a": s.attributes,
        "c": ctx.id if ctx.parent_id is None and ctx.user_id is None else ctx.as_dict(),
        "lc": s.last_changed.timestamp(),
    }
    if s.last_changed != s.last_updated:
        out["lu"] = s.last_updated_timestamp
    return out


def diff(ev):
    old, new = ev.old, ev.new
    if new is None:
        return {"r": [ev.entity_id]}
    if old is None:
        return {"a": {new.entity_id: compressed(new)}}
    add = {}
    if old.state != new.state:
        add["s"] = new.state
    if old.last_changed != new.last_changed:
        add["lc"] = new.last_changed.timestamp()
    elif old.last_updated_timestamp != new.last_updated_timestamp:
        add["lu"] = new.last_updated_timestamp
    oc, nc = old.context, new.context
    if oc.parent_id != nc.parent_id:
        add["c"] = {"parent_id": nc.parent_id}
    if oc.user_id != nc.user_id:
        add.setdefault("c", {})["user_id"] = nc.user_id
    if oc.id != nc.id:
        if "c" in add:
            add["c"]["id"] = nc.id
        else:
            add["c"] = nc.id
    result = {"+": add}
    oa, na = old.attributes, new.attributes
    if oa != na:
        changed = {k: v for k, v in na.items() if k not in oa or oa[k] != v}
        if changed:
            add["a"] = changed
        removed = oa.keys() - na
        if removed:
            result["-"] = {"a": list(removed)}
    return {"c": {new.entity_id: result}}


def load(path):
    raw = [json.loads(line) for line in open(path, encoding="utf-8")]
    # Fresh objects per timed pass: HA makes new State objects per change, so caches start empty.
    def build():
        events, prev = [], {}
        for d in raw:
            data = d["data"]
            new = State(data["new_state"]) if data["new_state"] is not None else None
            old = prev.get(data["entity_id"])
            if old is None and data["old_state"] is not None:
                old = State(data["old_state"])
            events.append(Event(d, old, new))
            prev[data["entity_id"]] = new
        return events

    return build


def best_us(build, fn, runs=7):
    best = float("inf")
    for _ in range(runs):
        events = build()
        t0 = time.perf_counter()
        for ev in events:
            fn(ev)
        best = min(best, (time.perf_counter() - t0) / len(events) * 1e6)
    return best


def main():
    build = load(sys.argv[1])
    encoder = Encoder096(allow_nan=False)
    sample = build()
    cached_events = [events_now(ev) for ev in sample]
    cached_entities = [b'{"type":"event","event":' + orjson.dumps(diff(ev)) for ev in sample]
    out = {
        "python": sys.version.split()[0],
        "orjson": orjson.__version__,
        "events0.96": best_us(build, lambda ev: encoder.encode({"id": 2, "type": "event", "event": ev})),
        "eventsNow": best_us(build, events_now),
        "entitiesNow": best_us(build, lambda ev: b'{"type":"event","event":' + orjson.dumps(diff(ev))),
        "joinEvents": best_us(lambda: cached_events, lambda m: b"".join((m, b',"id":', b"2", b"}"))),
        "joinEntities": best_us(lambda: cached_entities, lambda m: b"".join((m, b',"id":', b"2", b"}"))),
    }
    print(json.dumps(out))


main()
