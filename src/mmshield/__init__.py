"""mmshield: an open, self-hostable safety layer for chat assistants that see images.

Public API: parse a `Dialogue`, choose a `Policy`, ask a shield (`get_shield`) for a `Verdict`.
"""

from mmshield.dialogue import Dialogue, Turn, from_messages, from_mmds, to_mmds
from mmshield.errors import BackendError, ImageError, InputError, MMShieldError, ModelOutputError
from mmshield.images import ImageRef
from mmshield.policy import Policy
from mmshield.shields.base import Shield, available_backends, get_shield
from mmshield.taxonomy import DIMENSION_NAMES, NONE_APPLYING, Dimension
from mmshield.verdict import Evidence, RoleVerdict, Verdict

__version__ = "0.1.0"

__all__ = [
    "DIMENSION_NAMES",
    "NONE_APPLYING",
    "BackendError",
    "Dialogue",
    "Dimension",
    "Evidence",
    "ImageError",
    "ImageRef",
    "InputError",
    "MMShieldError",
    "ModelOutputError",
    "Policy",
    "RoleVerdict",
    "Shield",
    "Turn",
    "Verdict",
    "available_backends",
    "from_messages",
    "from_mmds",
    "get_shield",
    "to_mmds",
]
