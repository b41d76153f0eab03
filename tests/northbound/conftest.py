"""Fixtures of the MQTT bridge tests (the shared broker is tests/conftest.py's ``mqtt_url``)."""

from tests.northbound.support import mosquitto

__all__ = ["mosquitto"]
