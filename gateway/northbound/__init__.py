"""Northbound interfaces of the gateway: MQTT events (the outbox) and commands (docs/mqtt.md)."""

from gateway.northbound.mqtt import BrokerSettings, MqttBridge, parse_url

__all__ = ["BrokerSettings", "MqttBridge", "parse_url"]
