"""OCPP commands an operator sends to a charge point (admin API ``/ocpp/...``).

Any central-system action can be sent with its OCPP payload (camelCase JSON, validated against
the official schema before anything goes out); the answer is the charger's own, unfiltered:
its status (``Accepted``, ``Rejected``, ``NotSupported``, ``Unlocked``, ...) and its whole
response payload. What the gateway keeps from the answers:

* GetConfiguration: every key with its value and read-only flag (``ocpp_config_keys``);
  ChangeConfiguration accepted: the stored value follows.
* ChangeConfiguration of ``AuthorizationKey`` accepted: the charger's new password is stored
  (hashed) and from then on only the new one is accepted (whitepaper A01.FR.03); on any other
  answer the old one stays. The key's value is never journaled, logged or kept in clear.
* ReserveNow: the reservation id comes from the database when the operator gives none; a
  reservation the charger does not accept is not kept. CancelReservation accepted: cancelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.adapters.ocpp16.auth import authorization_key_password, hash_password
from gateway.adapters.ocpp16.charger import outcome_status
from gateway.adapters.ocpp16.mapping import SECRET_KEYS
from protocol.error_root import PilegateError
from protocol.ocpp16 import messages as m
from protocol.ocpp16 import schemas
from protocol.ocpp16.connection import CallFailed, InvalidReply
from protocol.ocpp16.convert import ConversionError, from_payload, iso_to_ms, to_payload

if TYPE_CHECKING:
    from gateway.adapters.ocpp16.charger import OcppCharger
    from gateway.storage import Storage

#: What an operator may send: every central-system action.
OPERATOR_ACTIONS = frozenset(m.OUTGOING)


class BadCommand(PilegateError, ValueError):
    """The operator's request is not a valid OCPP call (nothing was sent)."""


@dataclass(frozen=True, slots=True)
class CommandAnswer:
    status: str  # the charger's own status, or timed_out / call_error:<code>
    response: dict[str, Any] | None  # the charger's payload, as sent

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "response": self.response}


def build(action: str, payload: dict[str, Any], *, reservation_id: int | None = None) -> m.Request:
    if action not in OPERATOR_ACTIONS:
        raise BadCommand(f"{action!r} is not a central-system action")
    if reservation_id is not None:
        payload = {**payload, "reservationId": reservation_id}
    error = schemas.validate(action, payload)
    if error is not None:
        raise BadCommand(f"{action}: {error.code}: {error.description}")
    try:
        return from_payload(m.REQUESTS[action], payload)
    except ConversionError as exc:
        raise BadCommand(f"{action}: {exc}") from None


async def send(
    charger: OcppCharger, storage: Storage, action: str, payload: dict[str, Any], now_ms: int
) -> CommandAnswer:
    """Validate, send, await, keep what the answer says; raises BadCommand before sending."""
    pile_id = charger.charger_id
    reservation_id = None
    if action == "ReserveNow":
        build(action, {**payload, "reservationId": payload.get("reservationId", 1)})
        if "reservationId" not in payload:
            reservation_id = await storage.new_reservation(
                pile_id,
                payload["connectorId"],
                payload["idTag"],
                payload.get("parentIdTag"),
                iso_to_ms(payload["expiryDate"]),
                at_ms=now_ms,
            )
    request = build(action, payload, reservation_id=reservation_id)
    outcome = await charger.call(request)
    status = outcome_status(outcome)
    response = None
    if outcome is not None and not isinstance(outcome, CallFailed | InvalidReply):
        response = to_payload(outcome)
        await _keep(charger, storage, request, outcome, now_ms)
    elif isinstance(request, m.ReserveNow):
        await storage.set_reservation(pile_id, request.reservation_id, "refused")
    charger.log.info("ocpp_operator_command", action=action, status=status)
    return CommandAnswer(status, response)


async def _keep(
    charger: OcppCharger, storage: Storage, request: m.Request, response: m.Response, now: int
) -> None:
    pile_id = charger.charger_id
    if isinstance(response, m.GetConfigurationResponse):
        keys = [
            (k.key, None if k.key in SECRET_KEYS else k.value, k.readonly)
            for k in response.configuration_key or []
        ]
        await storage.put_config_keys(pile_id, keys, at_ms=now)
    elif isinstance(request, m.ChangeConfiguration) and isinstance(
        response, m.ChangeConfigurationResponse
    ):
        if response.status != "Accepted":
            return
        if request.key in SECRET_KEYS:
            known = await storage.charger_auth(pile_id)
            password = hash_password(authorization_key_password(request.value))
            profile = max(known.security_profile, 1)
            await storage.set_charger_password(pile_id, password, profile, at_ms=now)
            charger.log.info("ocpp_password_changed", security_profile=profile)
        else:
            await storage.set_config_value(pile_id, request.key, request.value, at_ms=now)
    elif isinstance(request, m.ReserveNow) and isinstance(response, m.ReserveNowResponse):
        accepted = response.status == "Accepted"
        await storage.set_reservation(
            pile_id, request.reservation_id, "accepted" if accepted else "refused"
        )
    elif isinstance(request, m.CancelReservation) and response_status(response) == "Accepted":
        await storage.set_reservation(pile_id, request.reservation_id, "cancelled")


def response_status(response: m.Response) -> str | None:
    status = getattr(response, "status", None)
    return status if isinstance(status, str) else None
