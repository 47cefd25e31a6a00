"""Everything one coordinator process holds, built once at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from .admin import AdminService
from .auth import TokenVerifier
from .call_queries import CallQueryService
from .calls import CallService
from .config import CoordinatorConfig
from .hub import EventHub
from .members import MemberService
from .presence import PresenceAnnouncer
from .rate_limits import RateLimits
from .ringing import RingService
from .scheduler import Scheduler
from .services import Services
from .sessions import SessionService
from .signalling import SignalRelay
from .store import Store
from .watch_access import WatchGuard


@dataclass
class CoordinatorState:
    config: CoordinatorConfig
    store: Store
    hub: EventHub
    scheduler: Scheduler
    admin: AdminService
    services: Services
    calls: CallService
    sessions: SessionService
    members: MemberService
    queries: CallQueryService
    tokens: TokenVerifier
    limits: RateLimits
    watches: WatchGuard
    rings: RingService
    signalling: SignalRelay
    presence: PresenceAnnouncer
