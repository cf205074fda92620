"""Turn a request into reusable phrases: a task verb phrase ("make X") and a short topic."""

from __future__ import annotations

import re

from mmshield.data.lexicon import key_phrase

_PREFIXES = [
    r"(please )?(can|could|would|will) you (please )?(tell|show|teach|explain to) me how (to|i can|i could|i would|one can|one could|someone can|someone could)",
    r"(please )?(can|could|would|will) you (please )?(help me|help)( to)?",
    r"(please )?(can|could|would|will) you( please)?(?=\s+(give me|provide|write|create|generate|draft|list|describe|explain|suggest)\b)",
    r"(please )?(tell|show|teach) me how (to|i can|i could)",
    r"how (can|could|do|would|should|might) (i|we|one|someone|you|a person|people)( best| successfully| effectively)?",
    r"how to",
    r"what('s| is| are) (the )?(best|most effective|easiest|quickest|simplest|safest|fastest) (way|ways|method|methods|strategy|strategies|technique|techniques|approach|tactics|tips) (to|for|of)",
    r"what (steps|methods|techniques|strategies|tools|materials|equipment|chemicals) (are needed|are required|do i need|should i use|can i use|would i need|can be used) (to|for)",
    r"i (want|need|would like|'d like|wanna) to( know how to| learn how to)?",
    r"i('m| am) (trying|looking|planning|going) to",
    r"help me( to)?",
    r"is there (a|any) way to",
    r"where can i( find| buy| get)?",
    r"what can i use to",
    r"give me (detailed |step-by-step )?(instructions|steps|a guide|tips|advice) (for|on|to) (how to )?",
]
_PREFIX_RX = re.compile(r"^\s*(" + "|".join(_PREFIXES) + r")\s+", re.IGNORECASE)
_IMPERATIVE = re.compile(
    r"^\s*(write|create|develop|generate|draft|design|provide|give|explain|describe|list|outline|produce|compose|"
    r"make|build|suggest|teach|show|plan|devise|craft|post|publish|share|find|tell|help|convince|persuade|"
    r"encourage|instruct|detail|offer|identify|recommend|compile|program|code|implement|set up|hack|steal)\b",
    re.IGNORECASE,
)
_SECOND_PERSON = [(r"\bmy\b", "your"), (r"\bme\b", "you"), (r"\bmyself\b", "yourself"), (r"\bi\b", "you"),
                  (r"\bi'm\b", "you're"), (r"\bmine\b", "yours")]


def clean(text: str) -> str:
    """Collapse whitespace and strip quotes / trailing punctuation."""
    t = re.sub(r"\s+", " ", text or "").strip().strip('"').strip()
    return t


def task_phrase(text: str) -> str | None:
    """A bare verb phrase for the request ("make a pipe bomb at home"), or None when not extractable."""
    t = clean(text)
    first = re.split(r"(?<=[?.!])\s", t)[0] if len(t) > 160 else t
    first = first.rstrip("?.! ")
    m = _PREFIX_RX.match(first)
    if m:
        rest = first[m.end():].strip()
        rest = re.sub(r"^(how to|to)\s+", "", rest, flags=re.IGNORECASE)
        if 2 <= len(rest.split()) <= 40:
            return _lower_first(rest)
        return None
    if _IMPERATIVE.match(first) and 2 <= len(first.split()) <= 40:
        return _lower_first(first)
    return None


_ME = re.compile(r"^(write|give|tell|show|send|make|create|generate|find|draft|get|teach|provide|compose|list)\s+(me|us)\s+", re.IGNORECASE)


_NOT_A_VERB = frozenset(
    "a an the and or but nor so yet you your yours i we us our they them their he him his she her it its this that "
    "these those some any each every all both few many much more most other such no not in on at of for with by from "
    "to as if than then what which who whom whose when where why how there here is are was were be been being am do "
    "does did can could would should will shall may might must very also just only even".split())


def starts_with_verb(phrase: str) -> bool:
    """Whether a task phrase plausibly opens with a verb (a cheap filter for phrases lent to other replies)."""
    first = phrase.split(" ", 1)[0]
    return first.isalpha() and first.islower() and first not in _NOT_A_VERB and not first.endswith("ly")


# Verbs that ask for content or information ("write", "explain"), not for an act done in the world.
_ASKS_FOR_CONTENT = frozenset(
    "write give create develop generate provide explain list describe draft compose tell show outline suggest "
    "design produce summarize summarise share offer recommend teach help answer detail know find".split())


def names_an_act(task: str) -> bool:
    """Whether a task phrase is a plain verb phrase naming something done ("rob a house"), not a request for
    content ("write a tutorial") and not a clause with a question or a list in it."""
    words = task.split()
    return bool(words) and starts_with_verb(task) and words[0].lower() not in _ASKS_FOR_CONTENT \
        and "?" not in task and "," not in task


def _lower_first(s: str) -> str:
    s = _ME.sub(lambda m: m.group(1) + " ", s)
    if len(s) > 1 and s[0].isupper() and not s[1].isupper():
        return s[0].lower() + s[1:]
    return s


def gerund(task: str) -> str:
    """'make a bomb' -> 'making a bomb' (first word only; good enough for templates)."""
    words = task.split(" ", 1)
    v = words[0].lower()
    rest = (" " + words[1]) if len(words) > 1 else ""
    irregular = {"be": "being", "get": "getting", "set": "setting", "put": "putting", "run": "running",
                 "cut": "cutting", "stop": "stopping", "plan": "planning", "shop": "shopping", "hit": "hitting",
                 "die": "dying", "lie": "lying", "tie": "tying", "see": "seeing", "flee": "fleeing"}
    if v in irregular:
        g = irregular[v]
    elif v.endswith("ie"):
        g = v[:-2] + "ying"
    elif v.endswith("e") and not v.endswith(("ee", "ye", "oe")):
        g = v[:-1] + "ing"
    elif v.endswith("ing"):
        g = v
    else:
        g = v + "ing"
    return g + rest


def second_person(task: str) -> str:
    """Rewrite first-person words for the assistant's voice ('my neighbour' -> 'your neighbour')."""
    out = task
    for a, b in _SECOND_PERSON:
        out = re.sub(a, b, out, flags=re.IGNORECASE)
    return out


def third_person(task: str) -> str:
    """Rewrite first-person words into a neutral third person ('my' -> 'their')."""
    repl = [(r"\bmy\b", "their"), (r"\bme\b", "them"), (r"\bmyself\b", "themselves"), (r"\bi\b", "they"),
            (r"\bi'm\b", "they're"), (r"\bmine\b", "theirs"), (r"\byour\b", "their"), (r"\byou\b", "they")]
    out = task
    for a, b in repl:
        out = re.sub(a, b, out, flags=re.IGNORECASE)
    return out


def topic_of(text: str, task: str | None = None) -> str:
    """A short topic noun phrase: a known key term, else the task's object, else the first words."""
    k = key_phrase(text)
    if k:
        return k
    base = task or clean(text)
    words = base.rstrip("?.!").split()
    if task and len(words) > 1:
        words = words[1:]
    words = [w for w in words if w.lower() not in ("a", "an", "the")] or words
    return " ".join(words[:6])


def sentence(s: str) -> str:
    """Capitalise the first letter."""
    return s[:1].upper() + s[1:] if s else s
