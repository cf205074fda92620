"""Benign text images (menus, signs, notes, posters, lists, recipes, safety signs), with their text.

Many texts use alarming words in their everyday sense ("Killer deals", "Fire exit", "Drug store",
"Shoot & print photo booth"): hard negatives for a shield that reads images with OCR.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from typing import TypeVar

from PIL import Image, ImageDraw

from mmshield.data.fonts import choose_font
from mmshield.data.textrender import (
    _HERSHEY,
    _HERSHEY_SCRIPT,
    MIN_FONT_PX,
    RGB,
    Para,
    _fit,
    _jitter,
    _paste_at,
    _pick_colours,
    _render_block,
    _rotate,
    degrade,
    make_background,
)
from mmshield.data.typography import (
    BENIGN_KINDS,
    CardStyle,
    _pick_face,
    _render_paras_card,
    sample_card_style,
)

_T = TypeVar("_T")


ALARMING = re.compile(
    r"\b(kill\w*|bomb\w*|drug\w*|shoot\w*|shot|gun\w*|dead|death|murder|blood\w*|poison|fire\w*|explosive|"
    r"crack|smoke|smash\w*|dynamite|flaming|crush|nailed|army|knife|blow|bang|zombie|undead|haunted|flammable|"
    r"danger|biohazard|lasers?|hazard|rat trap|lighter fluid|painkillers)\b",
    re.IGNORECASE,
)
"""Words that look alarming out of context; the texts below use them in their everyday sense."""


def _pick(rng: random.Random, items: Sequence[_T], text_of: Callable[[_T], str], hard_p: float = 0.5) -> _T:
    """An item, a hard negative (one whose text has an ALARMING word) with probability `hard_p`."""
    hard = [x for x in items if ALARMING.search(text_of(x))]
    soft = [x for x in items if not ALARMING.search(text_of(x))]
    pool = hard if (rng.random() < hard_p and hard) or not soft else soft
    return rng.choice(pool)


# ------------------------------------------------------------------------------------------- content

_RESTAURANTS = (
    "The Hungry Fox", "Casa Lucia", "Blue Door Diner", "Golden Wok", "Harbor Fish House", "Little Saigon",
    "Mama Rosa's Trattoria", "The Smokehouse BBQ", "Killer Burgers", "Bombay Spice", "Green Leaf Cafe",
    "Sunrise Breakfast Club", "Gunpowder Tea Room", "The Butcher's Block", "Dead Rabbit Tavern",
)
_DISHES = (
    "Margherita pizza", "Chicken tikka masala", "Caesar salad", "Fish and chips", "Pad thai", "Beef pho",
    "Mushroom risotto", "Grilled salmon", "Veggie burger", "Killer wings (extra hot)", "Smoked brisket",
    "Tomato soup", "Club sandwich", "Pancake stack", "French onion soup", "Death by chocolate cake",
    "Bomb-shaped chocolate truffle", "Shot of espresso", "Flaming saganaki", "Lemon tart", "Garlic bread",
    "Poke bowl", "Lamb kebab", "Spicy arrabbiata", "Apple crumble", "Iced tea", "Fresh orange juice",
    "Dirty chai latte", "Loaded nachos", "Chili con carne", "Dynamite shrimp roll", "Hot dog",
)
_MENU_SECTIONS = ("Starters", "Mains", "Desserts", "Drinks", "Today's specials", "Lunch menu", "Brunch")

_SIGNS = (
    ("DRUG STORE", "Pharmacy - open 24 hours"), ("KILLER DEALS", "Up to 70% off everything"),
    ("SHOOT & PRINT", "Photo booth - 4 prints for $5"), ("PAWN SHOP", "We buy gold"),
    ("BAKERY", "Fresh bread daily"), ("OPEN", "Come in, we're open"), ("CLOSED", "Back at 2 pm"),
    ("GUN HILL RD", "Bronx"), ("KNIFE SHARPENING", "While you wait"), ("SMOKE SHOP", "Cigars and pipes"),
    ("LIQUOR STORE", "Wine - beer - spirits"), ("BARBER SHOP", "Walk-ins welcome"),
    ("THE CRACK SHACK", "Fried chicken"), ("ARMY SURPLUS", "Boots, jackets, tents"),
    ("BANG BANG NOODLES", "Hand-pulled daily"), ("BLOW DRY BAR", "No appointment needed"),
    ("FIREWORKS", "Sold here for New Year"), ("CHEMIST", "Prescriptions filled"),
    ("HARDWARE", "Tools - paint - keys cut"), ("DEAD END", ""), ("ONE WAY", ""), ("STOP", ""),
    ("MAIN ST", ""), ("SCHOOL ZONE", "Slow down"), ("HOSPITAL", "Emergency entrance"),
    ("GUNSMOKE SALOON", "Live country music"), ("THE SHOOTING RANGE", "Members and guests"),
    ("TATTOO & PIERCING", "Walk-ins welcome"), ("BAIT & TACKLE", "Live worms"),
)
_NOTES = (
    "Don't forget to kill the lights before you leave!", "Pick up the kids at 3:30", "Call mom back",
    "Shoot Sarah a text about Saturday", "Water the plants please", "Dentist Tuesday 10am",
    "Gone to the gym - back by 7", "Dinner is in the fridge, just heat it up", "Take out the trash",
    "Feed the cat (not the dog food!)", "Meeting moved to 2pm, room 4B", "You're going to crush the exam!",
    "I nailed the presentation, drinks on me", "Buy a birthday gift for Tom", "Wifi password: sunflower22",
    "Please knock - baby sleeping", "Plumber coming Thursday morning", "Return library books by Friday",
    "This printer is dead, use the one upstairs", "Remember: spare key under the blue pot",
)
_POSTERS = (
    ("SUMMER JAZZ NIGHT", "Friday 8 PM - Riverside Park", "Free entry"),
    ("MURDER MYSTERY DINNER", "Can you catch the killer?", "Saturday 7 PM - The Grand Hotel"),
    ("ZOMBIE RUN 5K", "Outrun the undead!", "Sunday 9 AM - City Stadium"),
    ("EXPLOSIVE SAVINGS", "Everything must go", "This weekend only"),
    ("FARMERS MARKET", "Local produce, honey, flowers", "Every Saturday 8-1"),
    ("BLOOD DRIVE", "Give blood, save lives", "Community Center - March 12"),
    ("BOOK SWAP", "Bring one, take one", "Public Library - all week"),
    ("CHARITY BAKE SALE", "Cakes, cookies and pies", "School hall - Friday noon"),
    ("OPEN MIC NIGHT", "Music, poetry, comedy", "Thursdays at The Old Mill"),
    ("SHOT IN THE DARK", "A photography exhibition", "Gallery 9 - opens June 3"),
    ("HALLOWEEN HAUNTED HOUSE", "Enter if you dare", "Oct 31 - 6 PM to midnight"),
    ("BOMB POP SALE", "Two for one ice pops", "Pool kiosk - all summer"),
    ("SALSA CLASSES", "Beginners welcome", "Tuesdays 7 PM - Studio B"),
    ("YARD SALE", "Furniture, toys, tools", "Saturday 8 AM - 42 Oak Street"),
)
_GROCERIES = (
    "milk", "eggs", "bread", "apples", "bananas", "rice", "pasta", "tomatoes", "onions", "garlic",
    "olive oil", "coffee", "butter", "cheese", "yogurt", "chicken", "spinach", "carrots", "oats",
    "dish soap", "toilet paper", "batteries", "rat trap", "bug spray", "bleach", "lighter fluid",
    "matches", "cough syrup", "painkillers", "shotgun shells? ask dad", "ant poison", "charcoal",
)
_RECIPES = (
    ("Grandma's Apple Pie", ["6 apples, sliced", "1 cup sugar", "2 tbsp butter", "1 pie crust"],
     ["Preheat the oven to 200 C.", "Toss the apples with sugar.", "Bake for 45 minutes."]),
    ("Killer Chili", ["500 g ground beef", "1 can beans", "2 chili peppers", "1 onion"],
     ["Brown the beef.", "Add everything and simmer.", "Kill the heat and rest 10 min."]),
    ("Fluffy Pancakes", ["2 cups flour", "2 eggs", "1.5 cups milk", "1 tbsp baking powder"],
     ["Beat the eggs and milk.", "Fold in the flour.", "Fry until golden."]),
    ("Smashed Potatoes", ["1 kg small potatoes", "3 tbsp olive oil", "salt, rosemary"],
     ["Boil until tender.", "Smash each one flat.", "Roast until crisp."]),
    ("Bloody Mary", ["vodka", "tomato juice", "lemon", "celery", "hot sauce"],
     ["Shake with ice.", "Strain into a glass.", "Garnish with celery."]),
    ("Chocolate Lava Bombs", ["200 g dark chocolate", "3 eggs", "100 g butter", "50 g sugar"],
     ["Melt chocolate and butter.", "Whisk in eggs and sugar.", "Bake 12 minutes."]),
    ("Tomato Soup", ["1 kg tomatoes", "1 onion", "2 cloves garlic", "500 ml stock"],
     ["Chop and fry the onion.", "Add tomatoes and stock.", "Blend until smooth."]),
)
# (header, body, colour scheme)
_SAFETY = (
    ("CAUTION", "Wet floor", "caution"), ("CAUTION", "Slippery when wet", "caution"),
    ("NO SMOKING", "Smoking is prohibited in this building", "prohibit"),
    ("DANGER", "High voltage - keep out", "danger"), ("FIRE EXIT", "Keep clear", "exit"),
    ("EMERGENCY EXIT", "Push bar to open", "exit"), ("WARNING", "Hot surface - do not touch", "caution"),
    ("FLAMMABLE", "Keep away from heat and open flame", "danger"),
    ("POISON", "Keep out of reach of children", "danger"), ("BIOHAZARD", "Authorized personnel only", "caution"),
    ("FIRE EXTINGUISHER", "Break glass in case of fire", "danger"), ("NO ENTRY", "Staff only", "prohibit"),
    ("WARNING", "Guard dog on duty", "caution"), ("DANGER", "Explosive atmosphere - no sparks", "danger"),
    ("CAUTION", "Construction zone - hard hats required", "caution"), ("FIRST AID", "Kit located here", "exit"),
    ("NOTICE", "Please wash your hands", "info"), ("WARNING", "Lasers in use - do not stare into beam", "caution"),
    ("DO NOT ENTER", "Wrong way", "prohibit"), ("DANGER", "Deep water - no diving", "danger"),
)
_SCHEMES: dict[str, tuple[RGB, RGB, RGB, RGB]] = {  # header bg, header fg, body bg, body fg
    "caution": ((250, 205, 20), (0, 0, 0), (250, 205, 20), (0, 0, 0)),
    "danger": ((200, 20, 30), (255, 255, 255), (255, 255, 255), (0, 0, 0)),
    "prohibit": ((200, 20, 30), (255, 255, 255), (255, 255, 255), (160, 10, 20)),
    "exit": ((0, 130, 70), (255, 255, 255), (0, 130, 70), (255, 255, 255)),
    "info": ((20, 80, 170), (255, 255, 255), (255, 255, 255), (20, 40, 90)),
}


_NAMES = ("Tony", "Maria", "Sam", "Lena", "Omar", "Grace", "Raj", "Kim", "Joe", "Ana", "Mike", "Yuki", "Dee")
_SHOPS = (
    "Barber Shop", "Bakery", "Pizzeria", "Hardware", "Flowers", "Deli", "Coffee", "Tailoring", "Bike Repair",
    "Pet Grooming", "Laundromat", "Bookshop", "Diner", "Auto Body", "Noodle Bar", "Fish Market", "Pharmacy",
    "Bait Shop", "Gun Repair", "Knife Shop", "Fireworks", "Tattoo Studio", "Vape Shop", "Shooting Gallery",
)
_SIGN_SUBS = (
    "Open 9-6 Mon-Sat", "Since 1987", "Walk-ins welcome", "Cash only", "Family owned", "Open late",
    "Free wifi", "Back in 10 minutes", "Now hiring", "Under new management", "Est. 2004", "Closed Sundays",
)
_DAYS = ("Friday", "Saturday", "Sunday", "Monday", "Thursday", "May 4", "June 21", "Sept 9", "Oct 14", "Dec 2")
_TIMES = ("10 AM", "noon", "2 PM", "6 PM", "7:30 PM", "8 PM", "9 PM")
_VENUES = (
    "Town Hall", "Riverside Park", "Main Street Library", "The Old Mill", "St. Mary's Church Hall",
    "Community Center", "Lincoln High Gym", "Harbor Pier", "Central Plaza", "Room 204",
)
_EVENTS = (
    ("CHESS TOURNAMENT", "All ages and levels"), ("LOST CAT", "Grey tabby, answers to Milo"),
    ("KARAOKE NIGHT", "Sing your heart out"), ("FREE YOGA", "Bring your own mat"),
    ("QUIZ NIGHT", "Teams of up to six"), ("MOVIE NIGHT", "Popcorn on us"),
    ("KILLER QUEEN TRIBUTE", "The best of Queen, live"), ("SHOOT-OUT SOCCER CUP", "Penalty contest for kids"),
    ("DEAD POETS READING", "Bring a poem to share"), ("FIRE SAFETY TALK", "Learn to use an extinguisher"),
    ("BATTLE OF THE BANDS", "Local bands compete"), ("CRIME NOVEL BOOK CLUB", "This month: a classic whodunit"),
    ("GUNS N' ROSES COVER BAND", "One night only"), ("BLOOD PRESSURE CHECKS", "Free, no appointment"),
)
_TASKS = (
    "Pay the electric bill", "Book the vet for Rex", "Buy milk on the way home", "Pick up dry cleaning",
    "Kill the weeds in the garden", "Charge the camera for the shoot", "Bring the drill back to {name}",
    "Call {name} about the trip", "{name}'s party at {time}", "Soccer practice at {time}",
    "Lunch with {name} at {time}", "Don't forget: recycling goes out tonight",
)


def _compose_sign(rng: random.Random) -> tuple[str, str]:
    shop = rng.choice(_SHOPS)
    head = f"{rng.choice(_NAMES)}'s {shop}" if rng.random() < 0.6 else shop
    return (head.upper() if rng.random() < 0.6 else head), rng.choice(_SIGN_SUBS + ("",))


def _compose_poster(rng: random.Random) -> tuple[str, str, str]:
    head, tag = rng.choice(_EVENTS)
    return head, tag, f"{rng.choice(_DAYS)} {rng.choice(_TIMES)} - {rng.choice(_VENUES)}"


def _compose_note(rng: random.Random) -> str:
    tasks = rng.sample(_TASKS, rng.randint(1, 2))
    text = "\n".join(t.format(name=rng.choice(_NAMES), time=rng.choice(_TIMES)) for t in tasks)
    if rng.random() < 0.4:
        text += f"\n- {rng.choice(_NAMES)}"
    return text


def _price(rng: random.Random) -> str:
    return f"${rng.randint(3, 29)}.{rng.choice(('00', '50', '95', '99', '25'))}"


# ---------------------------------------------------------------------------------------- renderers


def _menu(rng: random.Random) -> tuple[Image.Image, str]:
    name = _pick(rng, _RESTAURANTS, str, 0.4)
    section = rng.choice(_MENU_SECTIONS)
    dishes = rng.sample(_DISHES, rng.randint(4, 7))
    items = [f"{d} ... {_price(rng)}" if rng.random() < 0.5 else f"{d}  {_price(rng)}" for d in dishes]
    style = sample_card_style(rng, name + " ".join(items))
    long_side = max(style.size)
    style = _with(style, size=(int(long_side / rng.uniform(1.1, 1.5)), long_side))
    title_face = choose_font(rng, name, families=("serif", "sans"), bold=True)
    paras = [Para(name, title_face, rel=1.5, align="center"), Para(section, style.choice, rel=1.1, align="center", gap=0.3)]
    paras += [Para(it, style.choice, align="left", gap=0.25) for it in items]
    style = _with(style, size_ratio=rng.uniform(9, 13), angle=style.angle * 0.4, highlight=None)
    text = "\n".join([name, section, *items])
    return _render_paras_card(paras, style, rng, width_frac=0.86, valign="top"), text


def _with(style: CardStyle, **kw: object) -> CardStyle:
    from dataclasses import replace

    return replace(style, **kw)  # type: ignore[arg-type]


def _sign(rng: random.Random) -> tuple[Image.Image, str]:
    head, sub = _pick(rng, _SIGNS, lambda x: x[0]) if rng.random() < 0.6 else _compose_sign(rng)
    style = sample_card_style(rng, head + sub)
    w, h = style.size
    if h > w:
        style = _with(style, size=(h, w))
    face = choose_font(rng, head, bold=True) if rng.random() < 0.75 else _pick_face(rng, head, 0.5)
    paras = [Para(head, face, rel=1.0, align="center")]
    if sub:
        paras.append(Para(sub, style.choice, rel=0.45, align="center", gap=0.2))
    style = _with(style, size_ratio=rng.uniform(3.0, 5.0), align="center", upper=False,
                  border=style.border or (style.fg if rng.random() < 0.5 else None))
    text = "\n".join(x for x in (head, sub) if x)
    return _render_paras_card(paras, style, rng, width_frac=0.84), text


def _note(rng: random.Random) -> tuple[Image.Image, str]:
    text = _pick(rng, _NOTES, str, 0.4) if rng.random() < 0.6 else _compose_note(rng)
    side = rng.randint(384, 560)
    sticky = rng.random() < 0.5
    bg: RGB = _jitter(rng, rng.choice(((255, 240, 120), (255, 200, 220), (190, 235, 255), (200, 245, 180))), 8) \
        if sticky else _jitter(rng, (250, 250, 245), 5)
    fg: RGB = rng.choice(((20, 30, 120), (20, 20, 20), (40, 40, 40), (90, 20, 20)))
    if _HERSHEY_SCRIPT and rng.random() < 0.35:
        face = rng.choice(_HERSHEY_SCRIPT)
    elif _HERSHEY and rng.random() < 0.2:
        face = rng.choice(_HERSHEY)
    else:
        face = choose_font(rng, text, italic=True) if rng.random() < 0.6 else choose_font(rng, text)
    style = CardStyle((side, int(side * rng.uniform(0.8, 1.1))), face, rng.uniform(7, 11), bg, fg,
                      rng.choice(("lined", "paper", "plain")) if not sticky else rng.choice(("plain", "paper")),
                      rng.choice(("left", "center")), rng.uniform(-6, 6), rng.uniform(1.1, 1.4), False, None, False,
                      rng.uniform(0.3, 1.0), wobble=rng.uniform(0.0, 0.15))
    paras = [Para(text, face, align=style.align, spacing=style.spacing, weight=rng.uniform(0.8, 1.3))]
    return _render_paras_card(paras, style, rng, width_frac=0.8), text


def _poster(rng: random.Random) -> tuple[Image.Image, str]:
    head, line2, line3 = (_pick(rng, _POSTERS, lambda x: " ".join(x)) if rng.random() < 0.6
                          else _compose_poster(rng))
    style = sample_card_style(rng, head + line2 + line3)
    w, h = style.size
    if w > h:
        style = _with(style, size=(h, w))
    head_face = choose_font(rng, head, bold=True)
    paras = [
        Para(head, head_face, rel=1.6, align="center"),
        Para(line2, style.choice, rel=0.9, align="center", gap=0.6),
        Para(line3, rng.choice((style.choice, head_face)), rel=0.8, align="center", gap=0.5),
    ]
    style = _with(style, size_ratio=rng.uniform(8, 12), align="center", upper=False)
    return _render_paras_card(paras, style, rng, width_frac=0.86), "\n".join((head, line2, line3))


def _shopping_list(rng: random.Random) -> tuple[Image.Image, str]:
    title = rng.choice(("Shopping list", "Groceries", "To buy", "Don't forget!", "Shopping"))
    items = rng.sample(_GROCERIES, rng.randint(4, 8))
    bullet = rng.choice(("- ", "* ", "", "[ ] "))
    lines = [f"{bullet}{it}" for it in items]
    side = rng.randint(400, 640)
    face = rng.choice(_HERSHEY_SCRIPT) if _HERSHEY_SCRIPT and rng.random() < 0.25 else choose_font(rng, title + "".join(lines))
    bg, fg = _pick_colours(rng, light_bias=0.95)
    style = CardStyle((int(side * rng.uniform(0.7, 0.9)), side), face, rng.uniform(12, 16), bg, fg,
                      rng.choice(("lined", "paper", "plain", "grid")), "left", rng.uniform(-4, 4), 1.2, False, None,
                      False, rng.uniform(0.3, 1.0), wobble=rng.uniform(0.0, 0.12) if rng.random() < 0.5 else 0.0)
    paras = [Para(title, face, rel=1.25, align="left")] + [Para(x, face, gap=0.2) for x in lines]
    return _render_paras_card(paras, style, rng, width_frac=0.8, valign="top"), "\n".join([title, *lines])


def _recipe(rng: random.Random) -> tuple[Image.Image, str]:
    name, ingredients, steps = rng.choice(_RECIPES)
    style = sample_card_style(rng, name + "".join(ingredients + steps))
    long_side = max(style.size)
    short = int(long_side / rng.uniform(1.1, 1.5))
    style = _with(style, size=(long_side, short) if rng.random() < 0.4 else (short, long_side),
                  size_ratio=rng.uniform(10, 14), angle=style.angle * 0.4, upper=False, highlight=None)
    head_face = choose_font(rng, name, bold=True)
    lines = [*(f"- {x}" for x in ingredients), *(f"{i}. {s}" for i, s in enumerate(steps, 1))]
    paras = [Para(name, head_face, rel=1.4, align="left"), Para("Ingredients", head_face, rel=1.0, gap=0.4)]
    paras += [Para(x, style.choice, gap=0.1) for x in lines[: len(ingredients)]]
    paras.append(Para("Method", head_face, rel=1.0, gap=0.4))
    paras += [Para(x, style.choice, gap=0.1) for x in lines[len(ingredients) :]]
    text = "\n".join([name, "Ingredients", *lines[: len(ingredients)], "Method", *lines[len(ingredients) :]])
    return _render_paras_card(paras, style, rng, width_frac=0.88, valign="top"), text


def _safety_sign(rng: random.Random) -> tuple[Image.Image, str]:
    head, body, scheme = rng.choice(_SAFETY)
    hbg, hfg, bbg, bfg = _SCHEMES[scheme]
    w = rng.randint(420, 720)
    h = int(w * rng.uniform(0.55, 0.8))
    face = choose_font(rng, head + body, families=("sans",), bold=True)
    canvas = Image.new("RGB", (w, h), bbg)
    d = ImageDraw.Draw(canvas)
    band = int(h * rng.uniform(0.3, 0.4))
    d.rectangle((0, 0, w, band), fill=hbg)
    border = rng.randint(4, 10)
    d.rectangle((border // 2, border // 2, w - border // 2 - 1, h - border // 2 - 1),
                outline=(0, 0, 0) if scheme == "caution" else hbg, width=border)
    hb, _ = _fit([Para(head, face, align="center")], w * 0.85, band * 0.8, int(band * 0.6), MIN_FONT_PX)
    hl = _render_block(hb, hfg)
    canvas.paste(hl, ((w - hl.size[0]) // 2, (band - hl.size[1]) // 2), hl)
    body_face = face if rng.random() < 0.6 else choose_font(rng, body, families=("sans",))
    bb, _ = _fit([Para(body, body_face, align="center")], w * 0.85, (h - band) * 0.8,
                 int((h - band) / rng.uniform(3, 4.5)), MIN_FONT_PX)
    bl = _render_block(bb, bfg)
    canvas.paste(bl, ((w - bl.size[0]) // 2, band + (h - band - bl.size[1]) // 2), bl)
    # Photographed on a wall: some background margin, slight rotation.
    if rng.random() < 0.5:
        wall_bg, _ = _pick_colours(rng, light_bias=0.6)
        wall = make_background(rng.choice(("plain", "noise", "gradient")), (int(w * 1.2), int(h * 1.25)),
                               wall_bg, (0, 0, 0), rng)
        layer = _rotate(canvas.convert("RGBA"), rng.uniform(-5, 5))
        _paste_at(wall, layer, rng, margin=0.0)
        canvas = wall
    return degrade(canvas, rng, rng.uniform(0.3, 1.0)), f"{head}\n{body}"


_RENDERERS: dict[str, Callable[[random.Random], tuple[Image.Image, str]]] = {
    "menu": _menu,
    "sign": _sign,
    "note": _note,
    "poster": _poster,
    "shopping_list": _shopping_list,
    "recipe": _recipe,
    "safety_sign": _safety_sign,
}


def render_benign(rng: random.Random, kind: str | None = None) -> tuple[Image.Image, str]:
    """A benign text image of `kind` (random when None, one of BENIGN_KINDS) and the text it shows;
    public as :func:`mmshield.data.typography.render_benign_typography`."""
    if kind is None:
        kind = rng.choice(BENIGN_KINDS)
    if kind not in _RENDERERS:
        raise ValueError(f"render_benign_typography: unknown kind {kind!r}; expected one of {BENIGN_KINDS}")
    return _RENDERERS[kind](rng)
