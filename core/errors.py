"""Domain errors raised below the HTTP layer; one API handler turns each into a status code."""

from __future__ import annotations


class AijobsError(Exception):
    """Base of every error the API knows how to answer; `status` is the HTTP code it maps to."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAuthenticated(AijobsError):
    """No key, or a key that matches no owner. `challenge` is the WWW-Authenticate answer."""

    status = 401
    code = "not_authenticated"

    def __init__(self, message: str, challenge: str = "Bearer") -> None:
        super().__init__(message)
        self.challenge = challenge


class NotAllowed(AijobsError):
    """A valid key that may not do this: a reviewer's key anywhere but answering."""

    status = 403
    code = "forbidden"


class QuestionNotFound(AijobsError):
    """No such waiting question for this reviewer; one of a job not granted to them answers
    the same."""

    status = 404
    code = "question_not_found"

    def __init__(self, question_id: str) -> None:
        super().__init__(f"question {question_id!r} not found")


class JobNotFound(AijobsError):
    """No such job for this owner. Another owner's job is reported the same way, on purpose."""

    status = 404
    code = "job_not_found"

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id!r} not found")


class ScheduleNotFound(AijobsError):
    """No such schedule for this owner; another owner's answers the same."""

    status = 404
    code = "schedule_not_found"

    def __init__(self, schedule_id: str) -> None:
        super().__init__(f"schedule {schedule_id!r} not found")


class CollectionNotFound(AijobsError):
    """No such collection (or document in it) for this owner; another owner's answers the
    same."""

    status = 404
    code = "collection_not_found"

    def __init__(self, name: str) -> None:
        super().__init__(f"collection {name!r} not found")


class ModelUnavailable(AijobsError):
    """The embedding endpoint failed a synchronous call; try again."""

    status = 503
    code = "model_unavailable"


class LimitReached(AijobsError):
    """An owner's limit: requests per window, or jobs running at once. `headers` carries
    Retry-After and the RateLimit fields."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.headers = headers or {}


class BudgetExhausted(AijobsError):
    """The owner's monthly budget is spent: 402, since waiting a minute will not help."""

    status = 402
    code = "budget_exhausted"


class JobConflict(AijobsError):
    """The request clashes with the job's state (already closed, idempotency key reused...)."""

    status = 409
    code = "conflict"


class InvalidInput(AijobsError):
    """A value the boundary models cannot check alone (an unknown job type, a stale token)."""

    status = 422
    code = "invalid_input"

    def __init__(
        self,
        loc: tuple[str | int, ...],
        message: str,
        errors: list[dict[str, object]] | None = None,
    ) -> None:
        super().__init__(message)
        self.loc = loc
        # Field-level errors from a model, each with its own `loc` below `loc`.
        self.errors = errors or []


class PayloadTooLarge(AijobsError):
    """The request body is over the configured limit."""

    status = 413
    code = "payload_too_large"


class WorkerTimeout(AijobsError):
    """Temporal took the request but no worker finished handling it in time."""

    status = 504
    code = "worker_timeout"


class TemporalUnavailable(AijobsError):
    """Temporal did not answer in time, so the API cannot say anything true about jobs."""

    status = 503
    code = "temporal_unavailable"

    def __init__(self, detail: str = "") -> None:
        message = "Temporal is unreachable; try again shortly"
        super().__init__(f"{message} ({detail})" if detail else message)


class StartUnconfirmed(TemporalUnavailable):
    """Temporal never confirmed a start within the API's deadline. The same Idempotency-Key
    (the answer carries it) returns that one job if the start landed after all."""

    def __init__(self, job_id: str) -> None:
        AijobsError.__init__(
            self,
            f"Temporal did not confirm the start of {job_id} in time: retry with the same "
            "Idempotency-Key (this answer's header), which starts the job at most once",
        )


class SettingsInvalid(AijobsError):
    """A setting in the environment that cannot be read: the process refuses to start."""

    status = 500
    code = "settings_invalid"


class DatabaseNotReady(AijobsError):
    """The application database cannot be used: unreachable, or not migrated to this code."""

    status = 503
    code = "database_unavailable"


class SearchAttributesMissing(AijobsError):
    """The Temporal namespace lacks search attributes that jobs set: every such job would wedge."""

    status = 503
    code = "temporal_misconfigured"


class KeysMismatch(AijobsError):
    """This process's AIJOBS_ENCRYPTION_KEYS cannot read what its deployment writes."""

    status = 503
    code = "keys_mismatch"


class DatabaseUnavailable(AijobsError):
    """The application database stopped answering (refused, gone, dropped): retry shortly."""

    status = 503
    code = "database_unavailable"

    def __init__(self) -> None:
        super().__init__("the application database is unreachable; try again shortly")
