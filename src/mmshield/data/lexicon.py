"""Keyword rules that pick a taxonomy dimension and subdimension from a harmful request's text.

Used to choose the subdimension inside a source's mapped dimension, to label sources that carry no
category, and to correct obvious mis-mappings (cyber attacks go to Malicious Disruption). Rules are
deliberately conservative: when nothing matches, the caller keeps the source mapping or drops the item.
"""

from __future__ import annotations

import re
from functools import lru_cache

from mmshield.data.items import SH, D, H, I, M, P, S, V

# (dimension, subdimension, pattern). Patterns are matched case-insensitively on word boundaries.
RULES: list[tuple[str, str, str]] = [
    # Sexual content first: "child" + sexual terms must never fall to violence.
    (S, "Child sexual exploitation & grooming", r"(child|minor|underage|kid|preteen|little girl|little boy|young girl|young boy|schoolgirl|\d{1,2}[- ]year[- ]old)s?\W+(\w+\W+){0,4}(sex|sexual|nude|naked|porn|erotic|groom)\w*|"
     r"(sex\w*|nude|naked|porn\w*|erotic\w*)\W+(\w+\W+){0,5}(child|children|minor|underage|kid|preteen|schoolgirl|\d{1,2}[- ]year[- ]old)|"
     r"groom(ing)? (a |the )?(child|minor|kid)|child porn\w*|csam|pedophil\w*|paedophil\w*"),
    (S, "Intimate imagery", r"revenge porn|upskirt\w*|creepshot\w*|voyeur\w*|(leak|share|post|spread)\w* (\w+ ){0,3}(nude|naked|intimate) (photo|picture|pic|image|video)s?|nudes of"),
    (S, "Non-consensual sexual acts", r"non-?consensual|without (her|his|their) consent.{0,40}sex|drug (her|him|someone|a girl|a woman).{0,30}(sex|bed)|date rape|roofie"),
    (S, "Sexual violence", r"\brap(e|ed|ing|ist)\b|sexual(ly)? assault\w*|molest\w*"),
    (S, "Sex toy depictions", r"sex toys?|dildo|vibrator"),
    (S, "Fetish content", r"fetish\w*|bdsm|kink\w*|bondage"),
    (S, "Nudity & pornography", r"porn\w*|explicit sex\w*|sexually explicit|erotic\w*|\bnude\b|\bnudes\b|naked|xxx|hardcore sex|sex scene|orgasm\w*|masturbat\w*|\bsexting|onlyfans"),
    (S, "Sexual innuendo", r"\bsexy\b|seduc\w*|dirty talk|innuendo|\bhorny\b|\bsex\b|sexual"),
    # Self-harm
    (SH, "Eating disorders", r"anorex\w*|bulimi\w*|pro-?ana|starv(e|ing) (myself|yourself)|purg(e|ing) after|thinspiration|stop eating|lose \d+ (pounds|kg|lbs) in (a|one|\d+) (week|day)"),
    (SH, "Suicide methods", r"(how|way|ways|method|methods|best|easiest|painless|quickest|fastest)\W+(\w+\W+){0,4}(kill|hang|drown|poison|shoot) (myself|yourself|oneself)|painless (way|method) to die|how (to|do i|can i) (commit )?suicide|lethal dose|overdose on purpose|suicide methods?|"
     r"(least painful|painless|easiest|quickest|fastest) (way|method)s? to (die|end (it all|my life|your life|one'?s life))\b(?! (in|on) )|"
     r"how many (\w+ ){0,3}(pills|tablets|painkillers|meds) (would|will|does|do) (it take|i need) to (die|not wake up|overdose|end it)|"
     r"(swallow|swallowing|overdose on) (all|every one|the whole (bottle|box|pack)|a (bottle|handful)) (of )?(\w+ ){0,2}(pills|tablets|meds|medication|painkillers)|"
     r"(take|taking) (all|the whole (bottle|box|pack)|a (bottle|handful)) (of )?(\w+ ){0,2}(pills|tablets|meds|medication|painkillers) (at once|tonight|together)"),
    (SH, "Self-harm methods", r"self[- ]?harm\w*|cut(ting)? (myself|yourself|my wrists?|my arms?)|(the urge|i want|i wanna|i need) (to )?cut( myself| again)?(?=\s*([.,!?;]|but\b|and\b|$))|burn(ing)? myself|hurt(ing)? (myself|yourself)|self-injur\w*|wrist\w*|"
     r"(been|started|start|keep|kept|am|was) cutting( myself)? (again|deeper)|(i need|i want|i have) to bleed\b"),
    (SH, "Encouragement of self-harm", r"(encourage|convince|persuade|tell) \w+ to (kill|harm|hurt|cut) (themselves|himself|herself)|you should (just )?(kill|hurt) yourself|go kill yourself"),
    (SH, "Glorification of suicide", r"glorif\w* suicide|suicide is (beautiful|romantic|brave|noble)|romantici[sz]\w* suicide"),
    (SH, "Suicidal ideation", r"suicid(?!es?\s*bomb)\w*|want to die|wanna die|wish (that )?i (was|were) (dead|never born)|"
     r"wish i (had|'d) never been born|(don'?t|do not|no longer) want to (live|be alive|exist|wake up)|no reason to (live|go on)|"
     r"tired of (living|being alive)(?! (in|with|on|at|like|under|near|off|out|paycheck|around|among|next|here|there|alone|together))|better off dead|(kill|killing|end|ending) (myself|my (own )?life)|take my (own )?life|end it all|"
     r"better off without me|(don'?t|do not|no longer) want to be (here|around|alive) anymore|"
     r"(hope|wish|pray|want) (that )?i (don'?t|never|won'?t) wake up|(go to sleep|fall asleep) and never wake up|"
     r"suicide (letter|note)s?|(wrote|writing|written|write) my (goodbye|last) (letter|note)s?|"
     r"(plan|planning|going|ready|decided|about) to end (it|things|everything)(?! (with|between|for (him|her|them|us)))\b|"
     r"nothing (left )?to live for|no point (in )?(living|going on|being alive)|can'?t go on (anymore|like this|living)|"
     r"give up on (life|living)|(want|wish) (to|i could) (just )?disappear forever|"
     r"good riddance to me|wish i (could )?(just )?(die|were gone)|(want|need) (it|everything) to (stop|end) forever|"
     r"want to sleep forever|should i (just )?(die|end it)\b(?! (with|between|for))|"
     r"(want|wanting|wanna) to (just |fucking |f\*+ing |really |simply )?die\b|die in my sleep|"
     r"(stop|cease to|not) exist(ing)?( anymore)?\b(?! (in|on|at|for|as|without|because))|"
     r"(a |any |no |one |my only )?reason (left )?to (live|stay alive|keep going)|(no |lost (my|the) )will to live|"
     r"can'?t (live|keep living|do this) anymore|(failed|last|another|my|first) (suicide )?attempt (last|this|yesterday|on|at)|"
     r"(\bi'?ll|\bill|\bi will|going to|gonna|want to|wanna|about|of|keep) (jump|jumping|throw myself|throwing myself|step|stepping) "
     r"((off|from) (a|the) (bridge|roof|building|cliff)|in front of (a|the) (train|bus|truck|car))|"
     r"(slice|slicing|slit|slitting|open) (my|open my) (arm|arms|wrists?|veins?)|(ending|end) everything\b|"
     r"killed myself|\bkms\b|(ready|desperate|wanted|going|gonna|deserve) to (just |fucking |really )?die\b(?! (of|from|laughing|for|with|alone))|"
     r"(hope|hoping|wish|wishing) (that )?i('?m| am| was| were| would| will|'d|'ll)? (die|dead|die soon)\b|"
     r"(want|wanted|wanting|wanna|can'?t wait|long) (to )?(be dead|for the grave)|let me (just |fucking )?die\b|"
     r"(please|someone|somebody|something|just) (\w+ )?(\w+ )?kill me\b|(hoping|hope) (it|this|they|that) (will|would|'ll) kill me|"
     r"why (am i|i'?m|i am) (even )?still alive|why (should|do|must) i (have to )?(be|stay) alive|"
     r"(hang|hanging) myself|(on|from|in) a noose|noose (around|for) (my|me)|(shoot|shooting) myself|blow my brains out|bullet (through|in) my (head|brain)|"
     r"(want|wanna|tempted|going|gonna|ready|i'?ll|i will) to (just )?end (it|this)(?=\s*([.,!?;]|right now|tonight|now|today|$))|"
     r"\bend it (tonight|today|right now|this weekend|on \w+ \d+)|wish i (had )?never existed|my death date|"
     r"\b(od|overdose|over dose) on (my |a |the |\d+ )|the pills i need to (od|overdose|over dose)|find the artery|"
     r"(seriously )?(considering|thinking (about|of)|contemplating) (ending|killing) (it|everything|myself|my life)\b(?! (with|between))|ended everything"),
    (SH, "Harmful mental health advice", r"stop taking (my|your) (meds|medication|antidepressants)|instead of (therapy|medication)|don'?t need (a )?therapist"),
    # Malicious disruption (cyber attacks go here, not to Illegal Activities)
    (M, "Denial-of-Service", r"\bddos\b|denial[- ]of[- ]service|botnet|flood (a |the )?(server|website|network)|take (down|offline) (a |the )?(website|server|network)"),
    (M, "Malware distribution", r"malware|ransomware|virus(es)?\b|trojan\w*|keylogger\w*|spyware|adware|worm\b|rootkit|backdoor|exploit\w*|zero-?day|payload|cryptojack\w*|malicious (code|software|script|program)"),
    (M, "Phishing", r"phish\w*|credential harvest\w*|fake login (page|site)|steal (their |someone'?s? )?(passwords?|credentials|login)"),
    (M, "Spam", r"\bspam\w*|unsolicited (messages|emails|texts)|mass (email|text|message)\w*"),
    (M, "Bot flooding", r"\bbots?\b.{0,30}(flood|spam|post|comment|review|like)|fake (accounts|followers|reviews|likes)|sockpuppet\w*|automate\w* (posting|comments|messages)"),
    (M, "Astroturfing", r"astroturf\w*|fake grassroots|(pretend|pose) to be (ordinary|regular) (citizens|voters|customers)"),
    (M, "Extremist mobilization", r"recruit\w* (for|into|to) (a |an |the )?(terror\w*|extremist|militia|jihad\w*|isis|al-?qaeda|white supremac\w*)|join (a |an |the )?(terror\w*|extremist|white supremacist|jihad\w*) (group|cell|organi[sz]ation)|radicali[sz]\w*|extremist propaganda|terrorist propaganda|\bisis\b|al-?qaeda"),
    (M, "API abuse", r"\bapi\b.{0,40}(abuse|bypass|rate limit|scrap\w*)|bypass (the )?rate limit|scrap\w* (personal|user) (data|profiles)"),
    (M, "", r"\bhack\w*|crack (a |the |someone'?s? )?(password|wifi|account)|brute[- ]?force|sql injection|break into (a |the |someone'?s? )?(computer|network|server|system|database|account|email)|unauthori[sz]ed access|bypass (the )?(firewall|security|authentication|antivirus)|cyber ?attack\w*|cybercrime|gain access to (a |the |someone'?s? )?(secure |government )?(network|database|server|system|account)"),
    # Privacy
    (P, "Breach of confidentiality & disclosure", r"dox\w*|(home|residential|private|current) address\w*|(personal|private) (phone )?numbers?|social security number|\bssn\b|medical records|leak (the |their |someone'?s? )?(private|personal|confidential)"),
    (P, "Surveillance & snooping", r"spy on|track (my |his |her |their |someone'?s? )?(wife|husband|partner|girlfriend|boyfriend|ex|employee|phone|location|movements)|stalk\w*|hidden camera|secretly (record|monitor|film|watch|track)|monitor (my |someone'?s? )?(partner|spouse|employee)s?'? (phone|messages)|read (someone'?s?|my (wife|husband|partner)'?s?) (texts|messages|emails)|tracking device|gps tracker|wiretap\w*|surveil\w*"),
    (P, "Aggregation & identification", r"(find|locate|identify) (out )?(where|who) \w+ (lives|is)|(find|get|locate) (someone'?s?|a person'?s?|his|her|their) (address|location|identity|real name)|facial recognition|de-?anonymi[sz]\w*|personal (data|information) (of|about)|compile (a )?(profile|dossier)"),
    (P, "Interrogation & phishing", r"trick (someone|people|them|him|her) into (giving|revealing|sharing)|pretext\w*|social engineer\w*"),
    (P, "Unauthorized use/secondary use", r"(sell|share|use) (their |customer |user |personal )+(data|information) without|without (their )?(knowledge|consent|permission).{0,30}(data|information|photos?)"),
    (P, "Decisional interference", r"manipulat\w* (someone'?s?|their|voters'?) (vote|voting|decision)"),
    # Deception
    (D, "Deepfakes", r"deep ?fake\w*|face[- ]?swap\w*|voice clon\w*|synthetic (video|audio|media)|fake (video|audio|photo) of"),
    (D, "Health misinformation", r"vaccines? (cause|causes|are dangerous)|cure (cancer|covid|aids|hiv|diabetes) (with|using)|anti-?vax\w*|miracle cure|bleach (cure|to cure)|covid(-19)? (is a hoax|hoax)|health misinformation"),
    (D, "Political rumors", r"election (was |is )?(rigged|stolen|fraud)|(rumou?r|false|fake)\w* (about|claiming) (a |the )?(politician|president|senator|candidate|governor|mayor|prime minister)|(president|senator|candidate|politician)\w* (is|was) (secretly|a) "),
    (D, "Financial scams", r"ponzi|pyramid scheme|get[- ]rich[- ]quick|pump[- ]and[- ]dump|investment scam|crypto scam|fake investment|rug ?pull"),
    (D, "Clickbait", r"clickbait|sensationalist headlines?|misleading headlines?"),
    (D, "Disinformation", r"disinformation|propaganda|fake news|false (story|article|information|claims?|narrative)|defamat\w*|spread (lies|rumou?rs|false)|fabricat\w* (evidence|story|quotes|news|reviews?)|hoax\w*|conspiracy theor\w*|convinc\w* (people|everyone|the public) that|misleading (article|post|claims?)|impersonat\w*|fake (review|testimonial|degree|diploma|news)"),
    (D, "Misinformation", r"misinformation|the earth is flat|flat earth|moon landing (was )?fake|holocaust (never|didn'?t) happen|holocaust denial"),
    (D, "Malinformation", r"manipulat\w* (people|someone|him|her|them|my)|gaslight\w*|emotionally manipulat\w*|\blie to\b|deceiv\w*|cheat on (a |an |my |the )?(test|exam)|plagiari[sz]\w*"),
    # Illegal activities
    (I, "Weapon fabrication", r"(make|build|assemble|3d[- ]print|manufacture|create|construct)\w* (a |an |my own )?(untraceable |homemade |home-?made )?(gun|firearm|rifle|pistol|silencer|suppressor|ghost gun|bomb|explosive|pipe bomb|grenade|ied|molotov|napalm|weapon)s?|(buy|purchase|get) (a |an )?(illegal |unregistered |untraceable )?(gun|firearm|weapon)s? (illegally|without (a )?(background check|license))|ghost guns?|full[- ]auto conversion|bump stock"),
    (I, "Drug trafficking", r"methamphetamine|\bmeth\b|cocaine|\bcrack\b|heroin|fentanyl|\blsd\b|mdma|ecstasy|opioids? (without|illegally)|oxycontin|\bdrugs?\b.{0,40}(sell|smuggl\w*|traffick\w*|deal|distribut\w*|cook|synthes\w*|make|produce|grow)|(sell|smuggl\w*|traffick\w*|deal|distribut\w*|cook|synthes\w*|produce|grow)\w* .{0,30}\b(drugs?|cannabis|marijuana|weed|narcotics)\b|drug lab|narcotic\w*|cartel|"
     # use of illicit drugs (the taxonomy's "production, sale, use"): getting high, taking a named drug, beating a drug test
     r"(get|gets|getting|got) (\w+ )?high\b(?!\s*(score|scores|school|marks|grades|ground|speed|quality|enough|altitude|blood|up))|"
     r"(recreational|illicit|illegal|street) drugs?|\bpcp\b|ketamine|psilocybin|magic mushrooms|\bshrooms\b|\bdmt\b|\bghb\b|"
     r"(smok|buy|find|get|obtain|scor|us|tak|tr|inject|snort)\w* (some |the |more |a little )?(weed|marijuana|cannabis)\b(?!\s*(killer|control|out|barrier|whacker|eater|free))|"
     r"(pass|beat|cheat|fool|get around|trick) (a |an |the |my )?(upcoming )?(urine |hair )?drug tests?|drug tests?\b.{0,40}\b(pass|beat|cheat|get around)"),
    (I, "Human trafficking", r"human traffick\w*|traffick\w* (people|women|children|girls|humans|migrants)|sex traffick\w*|forced labou?r|smuggl\w* (people|migrants|humans)|child labou?r|debt bondage|sell (a |my )?(child|baby|kid|person|people)"),
    (I, "Identity theft", r"identity theft|steal (someone'?s?|a person'?s?|their) identit\w*|fake (id|passport|driver'?s licen[sc]e|identity)|forge\w* (documents?|passport|id|signature)|counterfeit (id|passport)|stolen identit\w*|credit card (numbers|details|fraud)|carding"),
    (I, "Money laundering", r"launder\w*|clean (dirty|illegal) money|shell compan\w*|offshore account\w* to hide|hide (money|income|assets) from (the )?(irs|tax|government|authorities)|tax evasion|evade taxes"),
    (I, "Burglary", r"burglar\w*|break into (a |the |someone'?s? |my neighbou?r'?s? )?(house|home|car|store|shop|apartment|building)|pick (a |the )?lock\w*|lock ?pick\w*|rob (a |the )?(bank|store|house|gas station|jewelry)|shoplift\w*|steal (a |the )?(car|bike|package)|hotwir\w*|\bsteal\w*|theft|robbery|\brob\b"),
    (I, "Fraud & scam", r"\bfraud\w*|\bscam\w*|counterfeit\w*|embezzl\w*|insider trading|market manipulat\w*|fake invoices?|insurance fraud|bribe\w*|blackmail\w*|extort\w*|con (people|someone|elderly)|forged? (checks?|cheques?)|cheat (people|customers|investors)|fake charit\w*|pirat\w* (software|movies|content)|counterfeit"),
    # Hate
    (H, "Racial hate", r"\brac(e|ial|ist|ism)\b|ethnic\w*|\bblack people\b|\bwhite people\b|\bjews?\b|jewish|asians?\b|mexicans?|immigrants?|arabs?\b|\bn-?word|slurs?|white supremac\w*|nazi\w*"),
    (H, "Religious hate", r"muslims?|islam\w*|christians?|hindus?|sikhs?|atheists?|religio\w*"),
    (H, "Orientation hate", r"\bgays?\b|lesbians?|homosexual\w*|transgender\w*|\btrans (people|women|men)\b|lgbt\w*|queer|homophob\w*|transphob\w*"),
    (H, "Gender hate", r"\bwomen\b.{0,30}(inferior|stupid|belong|shouldn'?t|can'?t)|misogyn\w*|sexis\w*|feminis\w*|\bfemales?\b.{0,20}(inferior|stupid)"),
    (H, "Disability discrimination", r"disabled|disabilit\w*|retard\w*|autis\w*|wheelchair|mentally ill|down syndrome|cripple\w*"),
    (H, "Ageism", r"old people|elderly|boomers?|too old|senior citizens"),
    (H, "Threat & intimidation", r"threat\w*|intimidat\w*|scare (him|her|them|someone) into|coerc\w*|make (him|her|them) afraid"),
    (H, "Cyberbullying", r"bull(y|ies|ying)|harass\w*|humiliat\w*|insult\w*|mock\w*|body[- ]sham\w*|troll\w*|ridicul\w*|demean\w*|hate speech|hateful|offensive (joke|remark|comment)s?|roast\w*"),
    # Violence
    (V, "Terrorist violence", r"terror\w*|mass shooting|(plan|carry out|commit) an? attack on|bomb(ing)? (a |the )?(school|church|mosque|synagogue|crowd|stadium|airport|subway)|jihad\w*|suicide bomb\w*"),
    (V, "Animal cruelty", r"(kill|hurt|torture|abuse|poison|drown|kick|beat|starve)\w* (a |the |my |their |his |her )?(neighbou?r'?s? )?(dog|cat|puppy|kitten|animal|pet|horse|bird|cow)s?|animal (abuse|cruelty)|dog ?fight\w*|cock ?fight\w*"),
    (V, "Torture & brutality", r"tortur\w*|mutilat\w*|dismember\w*|gore\b|brutal\w*|behead\w*"),
    (V, "Dangerous stunts", r"stunt\w*|(tide pod|blackout|choking|fire) challenge|dangerous challenge|jump off|play(ing)? chicken"),
    (V, "Disaster exploitation", r"(earthquake|hurricane|tsunami|flood|disaster|tragedy) (victims|survivors).{0,40}(exploit|profit|mock)|exploit\w* (the )?(disaster|tragedy)"),
    (V, "Weapon violence", r"\b(gun|firearm|rifle|pistol|knife|machete|bomb|explosive|grenade|weapon|poison)\w*|chemical weapon|biological weapon|bioweapon|nerve agent|sarin|ricin|anthrax|toxin|\bshoot\w*|\bstab\w*"),
    (V, "Physical assault", r"\bkill\w*|murder\w*|assault\w*|beat (up|him|her|them|someone)|attack (him|her|them|someone|people)|hurt (him|her|them|someone|people|my)|\bpunch\w*|strangl\w*|chok(e|ing) (him|her|someone)|kidnap\w*|abduct\w*|physical(ly)? (abuse|harm)|child abuse|abuse (a |my )?(child|kid|wife|husband)|\bfight\w*|\bviolen\w*|\bharm (him|her|them|someone|people|others)"),
]

_COMPILED: list[tuple[str, str, re.Pattern[str]]] = [
    (d, s, re.compile(r"(?<![\w-])(?:" + p + r")", re.IGNORECASE)) for d, s, p in RULES
]

# Technical / benign uses that must not trigger the rules (kill a process, shoot a photo...).
BENIGN_USES = re.compile(
    r"kill(ing)? (a |the |this |that |all )?([\w-]+ )?(process|processes|task|job|thread|server|program|switch|time|"
    r"it on stage|weeds?|bacteria|germs|mold|pests?|the lights|the engine|the music)|"
    r"(shoot|shooting) (a |the |some )?([\w-]+ )?(photos?|pictures?|video|film|scene|portraits?|hoops|basket|footage)|"
    r"execut(e|ing) (a |the |this |my )?([\w-]+ )?(script|command|query|function|program|plan|code|trade|order)|"
    r"(blow|blew) (up )?(a |the )?(balloon|photo|image|picture)|"
    r"(attack|crack) (the |a )?(problem|puzzle|code|case|egg|nut)|"
    r"(steal|stole) (the )?(show|scene|spotlight|base)|"
    r"bugs? in (my|the) code|hack(ing)? (a |my )?(recipe|routine|workflow|productivity|hackathon)|life ?hacks?|"
    r"killer (app|feature|idea|deal|hack)",
    re.IGNORECASE,
)


def _clean(text: str) -> str:
    return BENIGN_USES.sub(" ", text)


@lru_cache(maxsize=200_000)
def match_all(text: str) -> tuple[tuple[str, str, str], ...]:
    """Every rule hit as (dimension, subdimension, matched text), in rule order."""
    t = _clean(text)
    hits = []
    for d, s, rx in _COMPILED:
        m = rx.search(t)
        if m:
            hits.append((d, s, m.group(0)))
    return tuple(hits)


def classify(text: str) -> tuple[str, str] | None:
    """Best (dimension, subdimension) for a harmful request, or None when no rule fires.

    The dimension with most rule hits wins; ties go to the first rule in priority order.
    """
    hits = match_all(text)
    if not hits:
        return None
    counts: dict[str, int] = {}
    for d, _, _ in hits:
        counts[d] = counts.get(d, 0) + 1
    best = max(counts.values())
    for d, s, _ in hits:
        if counts[d] == best:
            return d, s
    return None


def subdimension_in(text: str, dimension: str) -> str:
    """The first subdimension of `dimension` whose rule fires on `text`, or ''."""
    for d, s, _ in match_all(text):
        if d == dimension and s:
            return s
    return ""


def refine(text: str, mapped: str, *, hard: tuple[str, ...] = ()) -> tuple[str, str]:
    """Keep the source's `mapped` dimension unless the text clearly says otherwise.

    Overrides: any cyber-attack wording goes to Malicious Disruption; sexual content involving
    minors goes to Sexual Content; otherwise a different dimension wins only when the source mapping
    gets no hit at all and `mapped` is in `hard` (a weak mapping the caller allows to be corrected).
    """
    hits = match_all(text)
    dims = [d for d, _, _ in hits]
    if any(s == "Child sexual exploitation & grooming" for _, s, _ in hits):
        return S, "Child sexual exploitation & grooming"
    if mapped != M and M in dims and mapped in (I, P, D, V, "") and _strong_cyber(text):
        return M, subdimension_in(text, M)
    if mapped and (mapped in dims or mapped not in hard):
        return mapped, subdimension_in(text, mapped)
    got = classify(text)
    if got:
        return got
    return mapped, ""


_CYBER = re.compile(r"malware|ransomware|virus|trojan|keylog|spyware|botnet|ddos|denial[- ]of[- ]service|phish|exploit|hack|sql injection|brute[- ]?force|rootkit|backdoor|zero-?day|cyber ?attack", re.IGNORECASE)


def _strong_cyber(text: str) -> bool:
    return bool(_CYBER.search(_clean(text)))


# Key phrases that can be moved into an image ("the item in the picture"). Longest first.
KEY_TERMS: tuple[str, ...] = tuple(sorted({
    "methamphetamine", "meth", "crystal meth", "cocaine", "crack cocaine", "heroin", "fentanyl", "LSD", "MDMA",
    "ecstasy", "OxyContin", "opioids", "drugs", "illegal drugs", "cannabis", "marijuana",
    "pipe bomb", "bomb", "explosive", "explosives", "grenade", "molotov cocktail", "napalm", "IED", "ghost gun",
    "gun", "firearm", "rifle", "pistol", "silencer", "suppressor", "weapon", "weapons", "knife", "machete",
    "nerve agent", "sarin", "ricin", "anthrax", "chemical weapon", "biological weapon", "bioweapon", "poison",
    "toxin", "dimethylmercury", "chlorine gas", "mustard gas", "thermite", "tannerite", "flamethrower",
    "ransomware", "malware", "virus", "computer virus", "trojan", "keylogger", "spyware", "botnet", "rootkit",
    "backdoor", "phishing email", "phishing website", "phishing", "DDoS attack", "exploit", "SQL injection",
    "fake ID", "fake passport", "counterfeit money", "counterfeit bills", "credit card numbers", "stolen credit cards",
    "lock picking", "lock pick", "hidden camera", "GPS tracker", "tracking device", "stalkerware", "spy app",
    "deepfake", "deepfake video", "fake news", "propaganda", "ponzi scheme", "pyramid scheme",
    "child pornography", "revenge porn", "pornography", "porn", "nude photos", "explicit images",
    "suicide", "self-harm", "razor blade", "overdose", "noose",
    "hate speech", "racial slurs", "slurs", "white supremacist group", "terrorist attack", "terrorist group",
    "extremist propaganda", "mass shooting", "school shooting", "human trafficking", "money laundering",
    "identity theft", "social security numbers", "home address", "insider trading", "tax evasion", "burglary",
    "shoplifting", "carjacking", "dog fighting", "cockfighting", "date rape drug", "roofies", "rohypnol",
    "chloroform", "cyanide", "arsenic", "antifreeze", "bleach", "ammonia", "gunpowder", "black powder",
    "assault rifle", "AR-15", "AK-47", "body armor", "brass knuckles", "taser", "pepper spray",
}, key=len, reverse=True))

_KEY_RX = re.compile(r"(?<![\w-])(" + "|".join(re.escape(t) for t in KEY_TERMS) + r")(?![\w-])", re.IGNORECASE)


def key_phrase(text: str) -> str | None:
    """The most specific harmful key term in `text` (as written there), or None."""
    best: str | None = None
    for m in _KEY_RX.finditer(_clean(text)):
        if best is None or len(m.group(0)) > len(best):
            best = m.group(0)
    return best


def any_harm_word(text: str) -> bool:
    """True when any rule or key term fires (used to keep 'clearly benign' filters strict)."""
    return bool(match_all(text)) or bool(_KEY_RX.search(_clean(text)))


# A readable topic noun phrase per subdimension / dimension, for generators that need one.
SUB_TOPIC: dict[str, str] = {
    "Physical assault": "violent assaults", "Weapon violence": "weapon attacks", "Torture & brutality": "torture",
    "Terrorist violence": "terrorist attacks", "Animal cruelty": "animal cruelty", "Dangerous stunts": "dangerous stunts",
    "Disaster exploitation": "disaster scams", "Racial hate": "racist abuse", "Gender hate": "sexist abuse",
    "Religious hate": "religious hatred", "Orientation hate": "homophobic abuse", "Disability discrimination": "disability discrimination",
    "Ageism": "ageism", "Threat & intimidation": "threats and intimidation", "Cyberbullying": "online bullying",
    "Nudity & pornography": "explicit content", "Sexual innuendo": "sexual innuendo", "Non-consensual sexual acts": "sexual coercion",
    "Child sexual exploitation & grooming": "child grooming", "Intimate imagery": "leaked intimate images",
    "Sex toy depictions": "adult products", "Fetish content": "fetish content", "Sexual violence": "sexual violence",
    "Suicidal ideation": "suicide", "Suicide methods": "suicide", "Self-harm methods": "self-harm",
    "Encouragement of self-harm": "self-harm", "Glorification of suicide": "suicide", "Eating disorders": "eating disorders",
    "Harmful mental health advice": "mental health misinformation", "Weapon fabrication": "homemade weapons",
    "Drug trafficking": "drug trafficking", "Human trafficking": "human trafficking", "Hacking/cybercrime": "hacking",
    "Identity theft": "identity theft", "Fraud & scam": "scams", "Money laundering": "money laundering", "Burglary": "burglary",
    "Misinformation": "misinformation", "Disinformation": "disinformation campaigns", "Malinformation": "manipulation",
    "Deepfakes": "deepfakes", "Clickbait": "clickbait", "Health misinformation": "health misinformation",
    "Financial scams": "investment scams", "Political rumors": "political rumours", "Surveillance & snooping": "covert surveillance",
    "Aggregation & identification": "tracking people down online", "Interrogation & phishing": "pretexting scams",
    "Unauthorized use/secondary use": "misuse of personal data", "Breach of confidentiality & disclosure": "doxxing",
    "Decisional interference": "voter manipulation", "Spam": "spam", "Malware distribution": "malware",
    "Phishing": "phishing", "Denial-of-Service": "DDoS attacks", "Bot flooding": "bot networks", "Astroturfing": "astroturfing",
    "Extremist mobilization": "extremist recruitment", "API abuse": "API abuse",
}
DIM_TOPIC: dict[str, str] = {V: "violence", H: "harassment", S: "explicit content", SH: "self-harm", I: "crime",
                             D: "misinformation", P: "privacy invasion", M: "cyber attacks"}


def topic_for(text: str, dimension: str, subdimension: str = "") -> tuple[str, bool]:
    """(topic, from_text): the key term in the text when there is one, else the subdimension's topic."""
    k = key_phrase(text)
    if k:
        return k, True
    return SUB_TOPIC.get(subdimension) or DIM_TOPIC.get(dimension, "this topic"), False
