"""Turn a Dialogue into per-turn feature vectors for the context model.

Per turn t (causal: only turns <= t are used):
  text   embedding of the turn's own text
  ocr    embedding of the OCR text of the turn's images, fragments joined across lines and images
  joint  embedding of text + OCR joined (reads "the item in the image" together with the image text)
  prev   embedding of the previous turn of the other role (a reply is read with its request)
  scalars: role, image counts, image-safety scores, lengths, list/step structure, position.
With attention heads in the text encoder (`features.heads`), the heads' pooled vectors of the four texts
(text, ocr, joint, prev) follow the scalars, so the first 4 * 384 + scalars columns keep their meaning.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from mmshield.dialogue import Dialogue, Turn
from mmshield.shields.embedded.ocr_words import respace

EMB_DIM = 384
SCALAR_NAMES = (
    "is_user",
    "is_assistant",
    "has_image",
    "n_images",
    "ocr_present",
    "ocr_len",
    "text_len",
    "img_sexual",
    "img_gore",
    "position",
    "is_first",
    "step_lines",
    "question",
    "code",
    "text_area",
    "prev_present",
)
N_SCALARS = len(SCALAR_NAMES)
INPUT_DIM = 4 * EMB_DIM + N_SCALARS
"""Input width without attention heads (`input_dim`)."""
SLOTS = 4


def input_dim(heads_width: int = 0) -> int:
    """Input width of the context model when each text also has `heads_width` pooled values (`features.heads`)."""
    return SLOTS * (EMB_DIM + heads_width) + N_SCALARS
EMPTY_TEXT = "(no text)"

_STEP_RE = re.compile(r"^\s*(?:\d{1,2}[.)]|[-*•]|step\s*\d+)", re.IGNORECASE | re.MULTILINE)


@dataclass
class TurnImages:
    """What was read off one turn's images: joined OCR text and the max safety scores."""

    ocr_text: str = ""
    sexual: float = 0.0
    gore: float = 0.0
    text_area: float = 0.0
    per_image_text: list[str] = field(default_factory=list)


@dataclass
class TurnFeatures:
    """Features of one turn, plus the texts the rationale and evidence quote."""

    vector: np.ndarray
    role: str
    text: str
    ocr_text: str
    images: TurnImages


def join_ocr(fragments: list[str]) -> str:
    """Join OCR fragments of one turn's images into one phrase (lines and images in reading order)."""
    words = " ".join(f.strip() for f in fragments if f and f.strip())
    return re.sub(r"\s+", " ", words).strip()


def scalar_features(turn: Turn, index: int, imgs: TurnImages, has_prev: bool) -> np.ndarray:
    text = turn.content or ""
    s = np.zeros(N_SCALARS, dtype=np.float32)
    s[0] = turn.role == "user"
    s[1] = turn.role == "assistant"
    s[2] = bool(turn.images)
    s[3] = min(len(turn.images), 4) / 4.0
    s[4] = bool(imgs.ocr_text)
    s[5] = math.log1p(len(imgs.ocr_text)) / 8.0
    s[6] = math.log1p(len(text)) / 8.0
    s[7] = imgs.sexual
    s[8] = imgs.gore
    s[9] = min(index, 20) / 10.0
    s[10] = index == 0
    s[11] = min(len(_STEP_RE.findall(text)), 10) / 5.0
    s[12] = "?" in text
    s[13] = "```" in text or "def " in text or "import " in text
    s[14] = imgs.text_area
    s[15] = has_prev
    return s


def joint_text(turn: Turn, imgs: TurnImages) -> str:
    text = (turn.content or "").strip()
    if imgs.ocr_text:
        return f"{text} [image text: {imgs.ocr_text}]" if text else imgs.ocr_text
    return text or EMPTY_TEXT


def assemble(text_e: np.ndarray, ocr_e: np.ndarray, joint_e: np.ndarray, prev_e: np.ndarray,
             scalars: np.ndarray) -> np.ndarray:
    """The input vector layout shared by training and inference: the four mean embeddings, the scalars, then (when
    the slot vectors are longer than 384, with attention heads) the four slots' pooled head vectors."""
    slots = (text_e, ocr_e, joint_e, prev_e)
    parts = [v[:EMB_DIM] for v in slots] + [scalars] + [v[EMB_DIM:] for v in slots]
    return np.concatenate(parts).astype(np.float32)


@dataclass
class TurnInputs:
    """The texts (slots) and scalars of one turn before encoding; `joint`/`prev` None when absent."""

    text: str
    ocr: str
    joint: str | None
    prev: str | None
    scalars: np.ndarray


def turn_inputs(turns: list[Turn], images: list[TurnImages]) -> list[TurnInputs]:
    """String-level inputs of every turn (the same slots `DialogueEncoder` embeds), for bulk training."""
    out: list[TurnInputs] = []
    last: dict[str, str] = {}
    for index, (turn, im) in enumerate(zip(turns, images)):
        text = (turn.content or "").strip() or EMPTY_TEXT
        other = "assistant" if turn.role == "user" else "user"
        prev = last.get(other)
        out.append(TurnInputs(text=text, ocr=im.ocr_text, joint=joint_text(turn, im) if im.ocr_text else None,
                              prev=prev, scalars=scalar_features(turn, index, im, prev is not None)))
        last[turn.role] = text
    return out


@dataclass
class EncoderState:
    """What the next turn needs from earlier ones: the last text embedding of each role."""

    last_text: dict[str, np.ndarray] = field(default_factory=dict)
    index: int = 0


class DialogueEncoder:
    """Computes TurnFeatures with a text encoder and an image analyzer (both cached, loaded lazily)."""

    def __init__(self, text_encoder=None, image_analyzer=None, *, read_images: bool = True) -> None:
        self._text_encoder = text_encoder
        self._image_analyzer = image_analyzer
        self.read_images = read_images

    @property
    def text_encoder(self):
        if self._text_encoder is None:
            from mmshield.shields.embedded.features import TextEncoder

            self._text_encoder = TextEncoder()
        return self._text_encoder

    @property
    def image_analyzer(self):
        if self._image_analyzer is None:
            from mmshield.shields.embedded.features import ImageAnalyzer

            self._image_analyzer = ImageAnalyzer()
        return self._image_analyzer

    @property
    def width(self) -> int:
        """Length of one text's vector: 384, plus the attention heads' pooled values when the encoder has heads."""
        return int(getattr(self.text_encoder, "width", EMB_DIM))

    def encode(self, texts: list[str]) -> np.ndarray:
        """Vectors (n, `width`) of `texts`: the mean embedding, then the heads' pooled vectors if any."""
        te = self.text_encoder
        full = te.encode_full(texts) if hasattr(te, "encode_full") else te.encode(texts)
        return np.asarray(full, dtype=np.float32)

    def read_turn_images(self, turn: Turn) -> TurnImages:
        """OCR and safety scores of a turn's images (ImageError propagates: a verdict needs every image)."""
        if not turn.images or not self.read_images:
            return TurnImages()
        texts: list[str] = []
        sexual = gore = area = 0.0
        for ref in turn.images:
            f = self.image_analyzer.analyze(ref)
            texts.append(respace(f.ocr_text or ""))
            scores = f.safety or {}
            sexual = max(sexual, float(scores.get("sexual", 0.0)))
            gore = max(gore, float(scores.get("gore", 0.0)))
            area = max(area, float(getattr(f, "text_area_fraction", 0.0) or 0.0))
        return TurnImages(ocr_text=join_ocr(texts), sexual=sexual, gore=gore, text_area=area, per_image_text=texts)

    def turns(self, dialogue: Dialogue, images: list[TurnImages] | None = None) -> list[TurnFeatures]:
        """Features of every turn, with one batched encoder call for the whole dialogue.

        `images`: what was already read off each turn's images (training reads them once, in bulk)."""
        if images is None:
            images = [self.read_turn_images(t) for t in dialogue.turns]
        texts: list[str] = []
        for t, im in zip(dialogue.turns, images):
            texts.append((t.content or "").strip() or EMPTY_TEXT)
            if im.ocr_text:
                texts.extend([im.ocr_text, joint_text(t, im)])
        uniq = list(dict.fromkeys(texts))
        table = dict(zip(uniq, self.encode(uniq)))
        state = EncoderState()
        return [self._assemble(t, im, table, state) for t, im in zip(dialogue.turns, images)]

    def step(self, turn: Turn, state: EncoderState) -> TurnFeatures:
        """Features of one new turn given the state left by the previous ones (incremental mode)."""
        im = self.read_turn_images(turn)
        texts = [(turn.content or "").strip() or EMPTY_TEXT]
        if im.ocr_text:
            texts.extend([im.ocr_text, joint_text(turn, im)])
        uniq = list(dict.fromkeys(texts))
        table = dict(zip(uniq, self.encode(uniq)))
        return self._assemble(turn, im, table, state)

    def _assemble(self, turn: Turn, im: TurnImages, table: dict[str, np.ndarray], state: EncoderState) -> TurnFeatures:
        zeros = np.zeros(self.width, dtype=np.float32)
        text = (turn.content or "").strip() or EMPTY_TEXT
        text_e = table[text]
        ocr_e = table[im.ocr_text] if im.ocr_text else zeros
        joint_e = table[joint_text(turn, im)] if im.ocr_text else text_e
        other = "assistant" if turn.role == "user" else "user"
        prev = state.last_text.get(other)
        scalars = scalar_features(turn, state.index, im, prev is not None)
        vec = assemble(text_e, ocr_e, joint_e, prev if prev is not None else zeros, scalars)
        state.last_text[turn.role] = text_e
        state.index += 1
        return TurnFeatures(vector=vec, role=turn.role, text=turn.content or "", ocr_text=im.ocr_text, images=im)
