"""Backends behind one contract: `embedded` (CPU default), `openai` (any compatible server), `llava` (local)."""

from mmshield.shields.base import BaseShield, Shield, available_backends, get_shield, register_backend

__all__ = ["BaseShield", "Shield", "available_backends", "get_shield", "register_backend"]
