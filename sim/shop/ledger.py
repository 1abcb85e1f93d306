"""A product row's ledger: the reservations whose fate is settled, kept per actor in constant space.

A product row lists its reservations so that siblings merge without losing an
order (DESIGN.md). Listed for ever, a hot product's row grows with every order
it ever took, and every read merges and sums all of them. The ledger holds the
settled ones instead, the way a state-based CRDT keeps a counter: per actor
(the shop front, one per home node, that made the reservation), a version
vector entry with exceptions says which of the actor's reservations are in it,
and their count times the unit size is the stock they hold.

- Identity. Each reservation carries a dot `(actor, seq)`: the actor numbers
  the reservations it makes on a product 1, 2, 3, ... (a number a write
  certainly did not use is used again). The ledger of an actor is the settled
  set `{1..upto} - gaps` (a dotted version vector: Almeida et al., "Scalable
  and Accurate Causality Tracking for Eventually Consistent Stores", 2014), so
  a sibling that still lists a settled reservation is recognised and its copy
  absorbed, never counted twice; one that never had it loses nothing.
- Fate. A settled reservation is kept (confirmed, not cancelled) unless
  `fates` says otherwise: released, or cancelled (an apology). Those few are
  listed by seq, because a late copy can still change them: a confirmation in
  flight beats a release, a cancellation is sticky. The merge joins a copy's
  fate with the settled one exactly as it joins two copies (model.py), so the
  ledger loses no information the merge would use, except each reservation's
  time, order id and user (the order records keep those).
- Claims. Whether a reservation may settle depends on what the row does not
  show yet (see ProductRow.settle). Each actor, whenever it writes the row,
  claims: every reservation I made before `claim_ms` is in this row, except
  `unseen` of them (writes in flight, or lost). A claim stays true in any
  merge that contains the row it was written in.

Everything here is a join: per actor, the union of the settled sets, the join
of each seq's fates, the latest claim. Merging ledgers is commutative,
associative and idempotent and costs O(actors + exceptions), whatever the
number of orders.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field

from sim.errors import InvariantError

CONFIRMED, RELEASED, HELD = "confirmed", "released", "held"
"""A reservation's states: a cart hold, a hold given back, a sale."""

Dot = tuple[str, int]
"""A reservation's identity: (actor, seq), the seq-th reservation the actor made on the product."""
Fate = tuple[str, bool]
"""A settled reservation's (state, cancelled)."""
KEPT: Fate = (CONFIRMED, False)
"""The plain fate: a confirmed sale that holds its units. Not listed in `fates`."""

_STATE_RANK = {HELD: 0, RELEASED: 1, CONFIRMED: 2}
"""How concurrent states of one reservation merge: a release beats a hold; a confirmation
beats a release (a customer told "confirmed" keeps the order; the merge then finds any
oversell and apologises)."""
NEVER = float("-inf")


def state_rank(state: str) -> int:
    """Order of reservation states for merging (see _STATE_RANK)."""
    return _STATE_RANK[state]


def join_fates(a: Fate, b: Fate) -> Fate:
    """Two copies' fates merged: the higher state, cancelled if either is (as resolvers._join)."""
    state = a[0] if _STATE_RANK[a[0]] >= _STATE_RANK[b[0]] else b[0]
    return (state, a[1] or b[1])


@dataclass(frozen=True, slots=True)
class ActorLedger:
    """One actor's settled reservations and its latest claim.

    Attributes:
        upto: every seq <= upto is settled, except `gaps`.
        gaps: sorted seqs <= upto that are not settled here (still listed, in flight, lost).
        fates: sorted (seq, state, cancelled) of settled seqs whose fate is not KEPT.
        claim_ms: every reservation the actor made before it is in the row or counted in `unseen`.
        unseen: how many of its reservations the row lacked when it claimed.
    """

    upto: int = 0
    gaps: tuple[int, ...] = ()
    fates: tuple[tuple[int, str, bool], ...] = ()
    claim_ms: float = NEVER
    unseen: int = 0

    @property
    def count(self) -> int:
        """Settled reservations."""
        return self.upto - len(self.gaps)

    @property
    def kept(self) -> int:
        """Settled reservations that hold stock (confirmed, not cancelled)."""
        return self.count - len(self.fates)

    @property
    def cancelled(self) -> int:
        """Settled reservations cancelled (apologised for)."""
        return sum(1 for _seq, _state, cancelled in self.fates if cancelled)

    def has(self, seq: int) -> bool:
        """Whether reservation `seq` is settled here."""
        if seq > self.upto or seq < 1:
            return False
        i = bisect.bisect_left(self.gaps, seq)
        return i == len(self.gaps) or self.gaps[i] != seq

    def fate(self, seq: int) -> Fate | None:
        """The settled fate of `seq` (None: not settled here)."""
        if not self.has(seq):
            return None
        i = bisect.bisect_left(self.fates, (seq,))
        if i < len(self.fates) and self.fates[i][0] == seq:
            return (self.fates[i][1], self.fates[i][2])
        return KEPT

    def settle(self, seq: int, fate: Fate) -> ActorLedger:
        """This ledger with `seq` settled with `fate` (joined with the fate it had, if any)."""
        known = self.fate(seq)
        if known is not None:
            return self._with_fate(seq, join_fates(known, fate))
        if seq > self.upto:
            gaps = (*self.gaps, *range(self.upto + 1, seq))
            upto = seq
        else:
            gaps = tuple(g for g in self.gaps if g != seq)
            upto = self.upto
        out = ActorLedger(upto, gaps, self.fates, self.claim_ms, self.unseen)
        return out._with_fate(seq, fate)

    def _with_fate(self, seq: int, fate: Fate) -> ActorLedger:
        rest = tuple(f for f in self.fates if f[0] != seq)
        if fate != KEPT:
            rest = tuple(sorted((*rest, (seq, *fate))))
        if rest == self.fates:
            return self
        return ActorLedger(self.upto, self.gaps, rest, self.claim_ms, self.unseen)

    def claim(self, now_ms: float, unseen: int) -> ActorLedger:
        """This ledger with the actor's claim as of `now_ms`."""
        return ActorLedger(self.upto, self.gaps, self.fates, now_ms, unseen)

    def join(self, other: ActorLedger) -> ActorLedger:
        """The union of the settled sets, each seq's fates joined, the later claim."""
        if other == self:
            return self
        gaps = sorted(
            {g for g in self.gaps if not other.has(g)} | {g for g in other.gaps if not self.has(g)}
        )
        fates: dict[int, Fate] = {}
        for seq in {f[0] for f in (*self.fates, *other.fates)}:
            mine, theirs = self.fate(seq), other.fate(seq)
            if mine is None or theirs is None:
                fates[seq] = mine or theirs  # type: ignore[assignment]
            else:
                fates[seq] = join_fates(mine, theirs)
        listed = tuple(sorted((seq, *f) for seq, f in fates.items() if f != KEPT))
        claim = max((self.claim_ms, self.unseen), (other.claim_ms, other.unseen))
        return ActorLedger(max(self.upto, other.upto), tuple(gaps), listed, *claim)


EMPTY_ACTOR = ActorLedger()


@dataclass(frozen=True, slots=True)
class Ledger:
    """A product row's settled reservations: per actor, which are in it and how they ended.

    Attributes:
        units: the units of every settled reservation (0 while none is).
        actors: (actor, ActorLedger) sorted by actor.
    """

    units: int = 0
    actors: tuple[tuple[str, ActorLedger], ...] = ()
    held_units: int = field(init=False, repr=False, compare=False)
    """Units that settled reservations hold: confirmed and not cancelled. Counted once
    when the ledger is made (a page view asks it of every row it shows)."""

    def __post_init__(self) -> None:
        held = self.units * sum(a.kept for _, a in self.actors)
        object.__setattr__(self, "held_units", held)

    def of(self, actor: str) -> ActorLedger:
        """The ledger of one actor (empty if it has none here)."""
        for name, ledger in self.actors:
            if name == actor:
                return ledger
        return EMPTY_ACTOR

    def covers(self, dot: Dot) -> bool:
        """Whether the reservation with this dot is settled here."""
        return self.of(dot[0]).has(dot[1])

    def fate(self, dot: Dot) -> Fate | None:
        """The settled fate of a reservation (None: not settled here)."""
        return self.of(dot[0]).fate(dot[1])

    @property
    def standing_units(self) -> int:
        """Units of settled reservations not cancelled: what they could hold at most.

        A released one may still turn out confirmed (a confirmation in flight beats
        a release), so a cautious count takes it as holding.
        """
        return self.units * sum(a.count - a.cancelled for _, a in self.actors)

    @property
    def unseen(self) -> int:
        """Reservations the actors' claims say the row lacked."""
        return sum(a.unseen for _, a in self.actors)

    def _with(self, actor: str, ledger: ActorLedger, units: int | None = None) -> Ledger:
        rest = [(n, a) for n, a in self.actors if n != actor]
        actors = tuple(sorted((*rest, (actor, ledger))))
        return Ledger(self.units if units is None else units, actors)

    def settle(self, dot: Dot, fate: Fate, units: int) -> Ledger:
        """This ledger with one more reservation settled (of the ledger's unit size)."""
        if self.units and units != self.units:
            raise InvariantError(f"settling {units} units in a ledger of {self.units}-unit orders")
        actor, seq = dot
        return self._with(actor, self.of(actor).settle(seq, fate), units)

    def absorb(self, dot: Dot, fate: Fate) -> Ledger:
        """A late copy of a settled reservation: its fate joins the settled one."""
        return self._with(dot[0], self.of(dot[0]).settle(dot[1], fate))

    def claim(self, actor: str, now_ms: float, unseen: int) -> Ledger:
        """This ledger with `actor`'s claim as of `now_ms`."""
        return self._with(actor, self.of(actor).claim(now_ms, unseen))

    def cancel_beyond(self, inventory: int) -> Ledger:
        """Cancel settled sales beyond `inventory`, the last dots first.

        Settled reservations rank before every listed one (their time is
        forgotten); they settle only when certain to fit (ProductRow.settle),
        so this never cancels anything unless that rule was broken. It is here
        so that the merge stays total and oversell is never left unapologised.
        """
        over = self.held_units - inventory
        if over <= 0:
            return self
        excess = -(-over // self.units)
        out = self
        for actor, ledger in reversed(self.actors):
            seq = ledger.upto
            while excess and seq >= 1:
                if ledger.fate(seq) == KEPT:
                    out = out.absorb((actor, seq), (CONFIRMED, True))
                    excess -= 1
                seq -= 1
            if not excess:
                break
        return out


EMPTY = Ledger()


def join(ledgers: Iterable[Ledger]) -> Ledger:
    """The ledgers of several siblings merged (per actor: ActorLedger.join)."""
    ledgers = list(ledgers)
    first = ledgers[0]
    if all(other is first or other == first for other in ledgers):
        return first
    units = {ledger.units for ledger in ledgers} - {0}
    if len(units) > 1:
        raise InvariantError(f"ledgers of different unit sizes merged: {sorted(units)}")
    by_actor: dict[str, ActorLedger] = {}
    for ledger in ledgers:
        for name, actor in ledger.actors:
            seen = by_actor.get(name)
            by_actor[name] = actor if seen is None else seen.join(actor)
    return Ledger(units.pop() if units else 0, tuple(sorted(by_actor.items())))
