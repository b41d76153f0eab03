"""The OCPP 1.6J adapter: charge points speaking OCPP-J to the gateway as their central system.

``server`` (the listener and the core's side), ``transport`` (WebSocket handshake, security
profiles), ``auth`` (passwords), ``charger`` (one connection: the charger's calls in, the
core's commands out), ``transactions`` (what each call means: transactions, statuses, meter
values, bills), ``billing`` (a transaction as the gateway's bill), ``mapping`` (OCPP words ->
neutral ones), ``operator`` (the OCPP commands operators send). See docs/ocpp.md.
"""
