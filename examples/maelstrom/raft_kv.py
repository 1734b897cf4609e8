#!/usr/bin/env python3
"""A Raft lin-kv node for Maelstrom's protocol (standard library only).

faultline tests it (`faultline run --system maelstrom --node-cmd "python3 raft_kv.py"`), and
so can Maelstrom itself (`maelstrom test -w lin-kv --bin raft_kv.py`). It reads one JSON
message per line on stdin and writes one per line on stdout; logs go to stderr.

Clients send read / write / cas to any node. A follower forwards the request to the leader
it knows (retrying every second while no answer comes, so a request may reach the log more
than once), and relays the answer. The leader appends every operation, reads included, to
its log and answers once the entry is committed and applied. Entries carry the client's
(src, msg_id): the state machine applies each request once and answers a repeat with the
first result. A node that knows no leader answers 11 (temporarily unavailable).

Switches plant one bug each (the same classes as faultline's own `--unsafe-bug`):
  --bug stale-reads      every node answers reads from its own state at once
  --bug no-leader-check  a node that believes it leads answers at once, without confirming
                         through its followers that it still does: reads from its own
                         state, writes and cas applied to it before they commit
  --bug no-dedup         retried requests are applied every time they reach the log
"""

import json
import os
import random
import select
import sys
import time

BUGS = ("stale-reads", "no-leader-check", "no-dedup")

# Maelstrom's error codes (doc/protocol.md).
TEMPORARILY_UNAVAILABLE = 11
KEY_DOES_NOT_EXIST = 20
PRECONDITION_FAILED = 22

HEARTBEAT = 0.1
ELECTION = (0.6, 1.2)
FORWARD_RETRY = 1.0
FORWARD_GIVE_UP = 5.0
BATCH = 64


def log(*args):
    print(*args, file=sys.stderr, flush=True)


class Node:
    def __init__(self, bug):
        self.bug = bug
        self.id = None
        self.peers = []
        self.next_msg_id = 0
        # Raft state (volatile: this node keeps no disk, a restart starts empty).
        self.term = 0
        self.voted_for = None
        self.log = [{"term": 0, "op": None}]
        self.commit = 0
        self.applied = 0
        self.role = "follower"
        self.leader = None
        self.votes = set()
        self.next_index = {}
        self.match_index = {}
        self.deadline = 0.0
        self.last_heartbeat = 0.0
        # The state machine: key -> value, and each request's first result.
        self.kv = {}
        self.done = {}
        # Leader: log index -> [(dest, in_reply_to)] to answer when it is applied.
        self.waiting = {}
        # Follower: forwarded msg_id -> the client request it carries.
        self.forwarded = {}

    # ---- transport -------------------------------------------------------------------

    def send(self, dest, body):
        self.next_msg_id += 1
        body = dict(body, msg_id=self.next_msg_id)
        line = json.dumps({"src": self.id, "dest": dest, "body": body})
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
        return self.next_msg_id

    def reply(self, dest, in_reply_to, body):
        self.send(dest, dict(body, in_reply_to=in_reply_to))

    def error(self, dest, in_reply_to, code, text):
        self.reply(dest, in_reply_to, {"type": "error", "code": code, "text": text})

    # ---- timers ----------------------------------------------------------------------

    def reset_election(self):
        self.deadline = time.monotonic() + random.uniform(*ELECTION)

    def tick(self):
        now = time.monotonic()
        if self.id is None:
            return
        if self.role == "leader":
            if now - self.last_heartbeat >= HEARTBEAT:
                self.replicate()
        elif now >= self.deadline:
            self.campaign()
        for mid, f in list(self.forwarded.items()):
            if now - f["since"] >= FORWARD_GIVE_UP:
                del self.forwarded[mid]
            elif now - f["sent"] >= FORWARD_RETRY and self.leader not in (None, self.id):
                # No answer yet: send it again, to the leader known now.
                del self.forwarded[mid]
                self.forward(f["body"], f["src"], f["client_msg_id"], f["since"])

    # ---- elections -------------------------------------------------------------------

    def become_follower(self, term):
        if term > self.term:
            self.term = term
            self.voted_for = None
        if self.role != "follower":
            log(self.id, "follower in term", self.term)
        self.role = "follower"
        self.waiting.clear()
        self.reset_election()

    def campaign(self):
        self.role = "candidate"
        self.term += 1
        self.voted_for = self.id
        self.votes = {self.id}
        self.leader = None
        self.reset_election()
        last = len(self.log) - 1
        for p in self.others():
            self.send(p, {"type": "request_vote", "term": self.term, "candidate": self.id,
                          "last_log_index": last, "last_log_term": self.log[last]["term"]})
        self.maybe_win()

    def maybe_win(self):
        if self.role == "candidate" and len(self.votes) * 2 > len(self.peers):
            log(self.id, "leader in term", self.term)
            self.role = "leader"
            self.leader = self.id
            self.next_index = {p: len(self.log) for p in self.others()}
            self.match_index = {p: 0 for p in self.others()}
            # An entry of its own term, so that earlier entries can commit.
            self.log.append({"term": self.term, "op": None})
            self.replicate()

    def on_request_vote(self, src, b):
        if b["term"] > self.term:
            self.become_follower(b["term"])
        last = len(self.log) - 1
        up_to_date = (b["last_log_term"], b["last_log_index"]) >= (self.log[last]["term"], last)
        grant = (b["term"] == self.term and up_to_date
                 and self.voted_for in (None, b["candidate"]))
        if grant:
            self.voted_for = b["candidate"]
            self.reset_election()
        self.send(src, {"type": "request_vote_res", "term": self.term, "granted": grant})

    def on_vote(self, src, b):
        if b["term"] > self.term:
            self.become_follower(b["term"])
        elif self.role == "candidate" and b["term"] == self.term and b["granted"]:
            self.votes.add(src)
            self.maybe_win()

    # ---- replication -----------------------------------------------------------------

    def others(self):
        return [p for p in self.peers if p != self.id]

    def replicate(self):
        self.last_heartbeat = time.monotonic()
        self.advance_commit()  # alone, a leader commits what it appends
        for p in self.others():
            ni = self.next_index[p]
            self.send(p, {"type": "append_entries", "term": self.term, "leader": self.id,
                          "prev_index": ni - 1, "prev_term": self.log[ni - 1]["term"],
                          "entries": self.log[ni:ni + BATCH], "commit": self.commit})

    def on_append(self, src, b):
        if b["term"] < self.term:
            self.send(src, {"type": "append_entries_res", "term": self.term, "ok": False,
                            "match": 0})
            return
        self.become_follower(b["term"])
        self.leader = b["leader"]
        prev = b["prev_index"]
        if prev >= len(self.log) or self.log[prev]["term"] != b["prev_term"]:
            self.send(src, {"type": "append_entries_res", "term": self.term, "ok": False,
                            "match": min(prev - 1, len(self.log) - 1)})
            return
        for k, e in enumerate(b["entries"]):
            i = prev + 1 + k
            if i < len(self.log) and self.log[i]["term"] != e["term"]:
                del self.log[i:]
            if i >= len(self.log):
                self.log.append(e)
        match = prev + len(b["entries"])
        if b["commit"] > self.commit:
            self.commit = min(b["commit"], match)
            self.apply()
        self.send(src, {"type": "append_entries_res", "term": self.term, "ok": True,
                        "match": match})

    def on_append_res(self, src, b):
        if b["term"] > self.term:
            self.become_follower(b["term"])
            return
        if self.role != "leader" or b["term"] != self.term:
            return
        if b["ok"]:
            self.match_index[src] = max(self.match_index[src], b["match"])
            self.next_index[src] = self.match_index[src] + 1
            self.advance_commit()
        else:
            self.next_index[src] = max(1, min(self.next_index[src] - 1, b["match"] + 1))

    def advance_commit(self):
        for n in range(len(self.log) - 1, self.commit, -1):
            if self.log[n]["term"] != self.term:
                break
            copies = 1 + sum(1 for m in self.match_index.values() if m >= n)
            if copies * 2 > len(self.peers):
                self.commit = n
                self.apply()
                break

    # ---- the state machine -----------------------------------------------------------

    def apply(self):
        while self.applied < self.commit:
            self.applied += 1
            entry = self.log[self.applied]
            result = self.execute(entry["op"])
            for dest, in_reply_to in self.waiting.pop(self.applied, []):
                self.reply(dest, in_reply_to, result)

    def execute(self, op):
        if op is None:
            return None
        rid = (op["client"], op["client_msg_id"])
        if rid in self.done and self.bug != "no-dedup":
            return self.done[rid]
        result = self.run(op["body"])
        self.done[rid] = result
        return result

    def run(self, body):
        key = str(body["key"])
        t = body["type"]
        if t == "read":
            if key not in self.kv:
                return {"type": "error", "code": KEY_DOES_NOT_EXIST, "text": "no such key"}
            return {"type": "read_ok", "value": self.kv[key]}
        if t == "write":
            self.kv[key] = body["value"]
            return {"type": "write_ok"}
        if key not in self.kv and not body.get("create_if_not_exists"):
            return {"type": "error", "code": KEY_DOES_NOT_EXIST, "text": "no such key"}
        if self.kv.get(key) != body["from"]:
            return {"type": "error", "code": PRECONDITION_FAILED,
                    "text": "expected %r, had %r" % (body["from"], self.kv.get(key))}
        self.kv[key] = body["to"]
        return {"type": "cas_ok"}

    # ---- client requests -------------------------------------------------------------

    def local_read(self, src, b):
        key = str(b["key"])
        if key in self.kv:
            self.reply(src, b["msg_id"], {"type": "read_ok", "value": self.kv[key]})
        else:
            self.error(src, b["msg_id"], KEY_DOES_NOT_EXIST, "no such key")

    def on_client(self, src, b):
        """A read, write or cas from a client, or forwarded by a follower."""
        if b["type"] == "read" and self.bug == "stale-reads":
            return self.local_read(src, b)
        client = b.get("client", src)
        client_msg_id = b.get("client_msg_id", b["msg_id"])
        if self.role == "leader":
            if b["type"] == "read" and self.bug == "no-leader-check":
                return self.local_read(src, b)
            body = {k: v for k, v in b.items()
                    if k in ("type", "key", "value", "from", "to", "create_if_not_exists")}
            op = {"client": client, "client_msg_id": client_msg_id, "body": body}
            self.log.append({"term": self.term, "op": op})
            if self.bug == "no-leader-check":
                # Acknowledged at once, as if this node surely still led: applied to its own
                # state now (the entry, once committed, finds it done).
                self.reply(src, b["msg_id"], self.execute(op))
            else:
                self.waiting.setdefault(len(self.log) - 1, []).append((src, b["msg_id"]))
            self.replicate()
        elif "client" in b:
            # Forwarded to a node that no longer leads: the forwarder retries. An error here
            # would be definite, yet an earlier copy of the request may still commit.
            pass
        elif self.leader is not None:
            self.forward(b, src, b["msg_id"], time.monotonic())
        else:
            self.error(src, b["msg_id"], TEMPORARILY_UNAVAILABLE, "no leader known")

    def forward(self, body, src, client_msg_id, since):
        fwd = dict(body, client=src, client_msg_id=client_msg_id)
        fwd.pop("msg_id", None)
        mid = self.send(self.leader, fwd)
        self.forwarded[mid] = {"body": body, "src": src, "client_msg_id": client_msg_id,
                               "since": since, "sent": time.monotonic()}

    def on_forward_reply(self, b):
        f = self.forwarded.pop(b["in_reply_to"], None)
        if f is not None:
            body = {k: v for k, v in b.items() if k not in ("msg_id", "in_reply_to")}
            self.reply(f["src"], f["client_msg_id"], body)

    # ---- dispatch --------------------------------------------------------------------

    def handle(self, msg):
        src, b = msg["src"], msg["body"]
        t = b.get("type")
        if t == "init":
            self.id = b["node_id"]
            self.peers = list(b["node_ids"])
            random.seed("%s-%d" % (self.id, os.getpid()))
            self.reset_election()
            log(self.id, "initialised among", self.peers, "bug:", self.bug)
            self.reply(src, b["msg_id"], {"type": "init_ok"})
        elif t in ("read", "write", "cas"):
            self.on_client(src, b)
        elif t == "request_vote":
            self.on_request_vote(src, b)
        elif t == "request_vote_res":
            self.on_vote(src, b)
        elif t == "append_entries":
            self.on_append(src, b)
        elif t == "append_entries_res":
            self.on_append_res(src, b)
        elif "in_reply_to" in b:
            self.on_forward_reply(b)
        else:
            log("unknown message", msg)


def main():
    args = sys.argv[1:]
    bug = None
    if args[:1] == ["--bug"] and len(args) == 2 and args[1] in BUGS:
        bug = args[1]
    elif args:
        sys.exit("usage: raft_kv.py [--bug %s]" % "|".join(BUGS))
    node = Node(bug)
    fd = sys.stdin.fileno()
    buf = b""
    while True:
        ready, _, _ = select.select([fd], [], [], 0.02)
        if ready:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                if line.strip():
                    node.handle(json.loads(line))
        node.tick()


if __name__ == "__main__":
    main()
