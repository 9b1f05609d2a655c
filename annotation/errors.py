"""Domain errors. Each carries an HTTP status and a reason a person can act on; the API's
exception handler and the CLI print them as they are."""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400
    code = "invalid"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BodyTooLarge(DomainError):
    """A request body over the endpoint's cap, refused from its Content-Length before it is
    read."""

    status_code = 413
    code = "too_large"


class AnswerInvalid(DomainError):
    code = "answer_invalid"


class StageNotAvailable(DomainError):
    status_code = 409
    code = "stage_not_available"

    def __init__(self, stage: str) -> None:
        super().__init__(f"stage {stage!r} does not accept tasks on this installation yet")


class NotYours(DomainError):
    status_code = 403
    code = "not_yours"

    def __init__(self, assignment_id: int) -> None:
        super().__init__(f"assignment {assignment_id} is not leased to you")


class WrongState(DomainError):
    status_code = 409
    code = "wrong_state"


class KeyReused(DomainError):
    status_code = 409
    code = "idempotency_key_reused"


class WorkerBlocked(DomainError):
    status_code = 403
    code = "worker_blocked"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class LeaseExpired(DomainError):
    """The worker's lease ran out before the answer came; the answer is not counted (the
    browser keeps the draft and offers it again after leasing)."""

    status_code = 409
    code = "lease_expired"


class LimitReached(DomainError):
    status_code = 429
    code = "limit_reached"


class SignInLocked(DomainError):
    status_code = 429
    code = "locked_out"
