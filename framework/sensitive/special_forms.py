"""The grammar of special-category statements: one RE2 alternation, a named group per form.

Forms are named "<kind letter>_<form>" (h: health, o: orientation, r: religion, p: politics, u: unions,
e: ethnicity, b: biometric, g: genetic, k: keyword forms whose noun gives the kind); a form's value is
its group "<form>_v" (or _w, _x, _y). Each vocabulary of `special_terms` appears once, so the
automaton stays small. The pattern runs over the lower-cased text.
"""

from __future__ import annotations

import re

from framework.sensitive.scan import compile_pattern
from framework.sensitive.special_terms import (
    CONDITIONS,
    ETHNICITIES,
    MEDICINES,
    ORIENTATIONS,
    PARTIES,
    POLITICAL_LABELS,
    REFERENCE_NOUNS,
    RELIGIONS,
    UNIONS,
)

_COPULA = r"(?:i\s+am|i'm|i’m|im|is|are|was|were|been|being|he's|she's|they're|we're|'m|’m|'s|’s)"
_PERSON_COPULA = (
    r"(?:\b(?:i\s+am|i'm|i’m|im|he's|she's|they're|we're)|\b(?:he|she|they|we|user|partner|wife|husband|"
    r"mother|father|mom|mum|dad|son|daughter|brother|sister|friend|boyfriend|girlfriend|parents?|family|"
    r"grandmother|grandfather|grandparents|child|kid|colleague|boss)\s+(?:is|are|was|were))"
)
_OWNER = r"(?:my|his|her|their|the\s+user's|user's|the\s+user’s)"
_MODS = (
    r"(?:(?:a|an|the)\s+)?(?:(?:history\s+of|bout\s+of|form\s+of)\s+)?(?:(?:stage\s+\w+|chronic|severe|mild|"
    r"acute|early[- ]onset|late[- ]stage|terminal|advanced|metastatic|clinical|major|recurring|seasonal)\s+)"
    r"{0,3}"
)
_PHRASE = r"[^\s.,;:!?]+(?:\s+[^\s.,;:!?]+){0,3}"  # up to four words, trimmed in Python
_UNION = rf"(?:{UNIONS})\b|(?:[\w'.&-]+\s+){{0,3}}(?:trade\s+|labou?r\s+)?union\b"
_NOUNS = "|".join(REFERENCE_NOUNS.values())
_PARTS: dict[str, tuple[str, ...]] = {
    "h_diag": (
        r"\b(?:diagnosed\s+with|tested\s+positive\s+for|diagnosis\s+of)\s+",
        rf"(?P<h_diag_v>{_PHRASE})",
    ),
    # every way a condition is said of someone, in one form: the vocabulary is compiled once
    "h_cond": (
        r"\b(?:(?P<h_cond_has>has|have|had|'s\s+got|has\s+got|'ve\s+got|have\s+got)",
        rf"|(?P<h_cond_own>{_OWNER})",
        r"|(?:suffers?|suffering|suffered)\s+from|(?:living|lives|live)\s+with|battling|fighting|coping\s+with",
        r"|(?:struggles?|struggled|struggling|deals?|dealt|dealing)\s+with|recovering\s+from|recovered\s+from",
        r"|in\s+recovery\s+from|in\s+remission\s+from|(?:being\s+)?treated\s+for|receiving\s+treatment\s+for)",
        rf"\s+{_MODS}(?P<h_cond_v>{CONDITIONS})\b",
    ),
    "h_rec": (r"\bin\s+(?P<h_rec_v>recovery|rehab)\b",),
    "h_med": (
        r"\b(?:(?:takes?|taking|took|prescribed|started|starting|stopped|stopping|quit|uses?|using|injects?|",
        rf"injecting|needs?)\s+|{_COPULA}\s+(?:now\s+|still\s+|currently\s+|also\s+)?on\s+)",
        r"(?:[\d.]+\s*(?:mg|mcg|µg|ml|units?|iu)\s+(?:of\s+)?",
        r"|(?:daily|weekly|regular|low[- ]dose|high[- ]dose)\s+)?",
        rf"(?P<h_med_v>{MEDICINES})\b",
    ),
    "h_is": (
        rf"{_COPULA}\s+(?:(?:currently|now|still|also|very|clinically|severely|profoundly|legally|",
        r"partially|newly)\s+)?(?P<h_is_v>hiv[- ]positive|hiv\+|diabetic|epileptic|asthmatic|bipolar|",
        r"autistic|anorexic|",
        r"bulimic|schizophrenic|pregnant|infertile|an\s+alcoholic|an\s+addict|a\s+recovering\s+(?:alcoholic|",
        r"addict)|on\s+dialysis|on\s+the\s+(?:autism\s+)?spectrum|deaf|blind|disabled|paraplegic|quadriplegic|",
        r"immunocompromised|neurodivergent|dyslexic)\b",
    ),
    "h_care": (
        r"\b(?:sees|seeing|saw|see|visits|visiting)\s+(?:a|an|my|his|her|their)\s+(?P<h_care_v>therapist|",
        r"psychiatrist|psychologist|oncologist|counsell?or|cardiologist|neurologist|endocrinologist|",
        r"rheumatologist|hepatologist|fertility\s+(?:doctor|specialist|clinic))\b",
        r"|\b(?:undergoing|in|attends?|attending|goes\s+to|going\s+to|started",
        r"|(?:going|went|goes|go)\s+through)",
        r"\s+(?P<h_care_w>therapy|rehab|counsell?ing|aa\s+meetings|chemo(?:therapy)?|radiotherapy|dialysis",
        r"|ivf)\b",
    ),
    "h_event": (
        r"\b(?:had|has\s+had|have\s+had|suffered)\s+(?:a\s+|an\s+)?(?P<h_event_v>miscarriage|abortion|stroke|",
        r"heart\s+attack|seizure|mastectomy|hysterectomy|stillbirth|nervous\s+breakdown|overdose|",
        r"(?:kidney|liver|heart|lung)\s+transplant|bypass\s+surgery)\b",
    ),
    "h_blood": (
        r"\bblood\s+(?:type|group)\s+(?:is\s+|:\s*)?",
        r"(?P<h_blood_v>(?:ab|a|b|o)\s*(?:[+-]|positive|negative|pos|neg)?)(?:\W|$)",
    ),
    "o_is": (
        rf"(?:{_COPULA}|\bidentif(?:y|ies|ied)\s+as|\bcame\s+out\s+as|\bcoming\s+out\s+as|\bout\s+as)\s+",
        rf"(?:(?:a|an|openly|proudly|also|happily)\s+){{0,2}}(?P<o_is_v>{ORIENTATIONS})\b",
    ),
    "o_rel": (
        rf"(?:{_COPULA}\s+(?:in\s+)?(?:a\s+)?|\b{_OWNER}\s+)(?P<o_rel_v>gay|lesbian|same-sex|queer)\s+",
        r"(?:couple|relationship|marriage|partnership|partner|wife|husband|boyfriend|girlfriend)\b",
    ),
    "r_is": (
        rf"{_COPULA}\s+(?:a\s+|an\s+)?(?:(?:practi[cs]ing|devout|observant|orthodox|born-again|lapsed|",
        r"non-practi[cs]ing|conservative|reform|religious|committed|proud|converted)\s+){0,2}",
        rf"(?P<r_is_v>{RELIGIONS})\b",
    ),
    "r_go": (
        r"\b(?:go(?:es)?|going|went|attends?|attending|attended)\s+(?:to\s+)?(?:the\s+)?(?P<r_go_v>church|",
        r"mosque|synagogue|temple|gurdwara|mass|shul|kingdom\s+hall|friday\s+prayers?|jummah|sunday\s+service)\b",
    ),
    "r_do": (
        r"\b(?:fasts?|fasting|observes?|observing)\s+(?:for\s+|during\s+|on\s+)?(?P<r_do_v>ramadan|",
        r"yom\s+kippur|lent|shabbat|the\s+sabbath|passover)\b|\b(?:keeps?|keeping)\s+(?P<r_do_w>kosher|halal)\b",
        r"|\b(?:prays?|praying)\s+(?P<r_do_x>five\s+times|to\s+allah)",
        r"|\bwears?\s+(?:a\s+)?(?P<r_do_y>hijab|niqab|burqa|turban|kippah|yarmulke)\b",
    ),
    "p_vote": (
        r"\b(?:votes?|voted|voting|supports?|supporting|backs?|backed)\s+(?:for\s+)?(?:the\s+)?",
        rf"(?P<p_vote_v>{PARTIES})\b",
    ),
    "p_member": (
        r"\b(?:member|supporter|donor|volunteer|activist|candidate|councillor|organi[sz]er)\s+(?:of|for|with)",
        rf"\s+(?:the\s+)?(?P<p_member_v>{PARTIES}|[a-z][\w'-]+(?:\s+[a-z][\w'-]+){{0,3}}\s+party)\b",
    ),
    "p_is": (
        rf"{_COPULA}\s+(?:a\s+|an\s+)?(?:(?:lifelong|registered|staunch|committed|card-carrying|proud|",
        rf"die-hard|hardcore|devoted)\s+){{0,2}}(?P<p_is_v>{POLITICAL_LABELS})\b",
    ),
    "u_member": (
        rf"\b(?:member|members|membership)\s+(?:of|in)\s+(?:the\s+|a\s+|my\s+)?(?P<u_member_v>{_UNION})",
    ),
    "u_join": (
        r"\b(?:joined|join|joining|belongs?\s+to|belonging\s+to|pays?\s+dues\s+to|rep\s+for|representative\s+for",
        r"|steward\s+(?:for|at)|organi[sz]er\s+(?:for|with)|active\s+in|i'm\s+in|i\s+am\s+in|is\s+in|are\s+in)",
        rf"\s+(?:the\s+|a\s+|my\s+)?(?P<u_join_v>{_UNION})",
    ),
    "u_role": (
        rf"(?:\b(?P<u_role_v>{UNIONS})|\b(?:trade\s+|labou?r\s+)?union)\s+(?:member|rep|representative|",
        r"steward|shop\s+steward|organi[sz]er|official|delegate|activist)\b",
    ),
    "e_of": (
        r"\bof\s+(?P<e_of_v>[a-z][\w'-]+(?:[- ][a-z][\w'-]+){0,2})\s+",
        r"(?:descent|heritage|ancestry|origin|background|extraction)\b",
    ),
    "e_is": (
        rf"{_PERSON_COPULA}\s+(?:(?:half|part|a\s+quarter|mixed|ethnically|racially)\s+)?",
        rf"(?P<e_is_v>{ETHNICITIES}|(?:half|part)[- ][a-z]\w+)\b",
    ),
    "b_own": (
        rf"\b{_OWNER}\s+(?P<b_own_v>(?:fingerprint|finger\s+print|thumbprint|face|facial|face\s+id|iris|retina|",
        r"retinal|voice|voiceprint|palm|palm\s+print|vein|gait)\s*(?:template|data|hash|scan|scans|record|",
        r"sample|minutiae|encoding|embedding|vector|print|geometry|profile|pattern|signature))\b",
        r"(?:\s+(?:id|data|hash|sample|file|template|record)){0,2}",
        r"(?:\s*(?:is|:|=)\s*(?P<b_own_w>[^\s,;]{4}[^\s,;]*))?",
    ),
    "b_val": (
        r"\b(?:fingerprint|thumbprint|faceprint|face\s+id|facial|iris|retina(?:l)?|voiceprint|voice\s+print|",
        r"palm\s+print|vein)\s+(?:template|scan|data|hash|minutiae|encoding|embedding|sample|geometry)\s*",
        r"(?:data\s+|id\s+|hash\s+)?(?:for\s+(?:me|him|her|them|the\s+user|user)\s+)?(?:is|:|=)\s*",
        r"(?P<b_val_v>[^\s,;]{4}[^\s,;]*)",
    ),
    "g_test": (
        rf"\b{_OWNER}\s+(?P<g_test_v>(?:dna|genetic|genome|23andme|ancestrydna)\s+(?:test|testing|results?|",
        r"profile|report|data|sequence|screening|analysis))\b",
        r"|\b(?P<g_test_w>(?:dna|genetic)\s+(?:test(?:ing)?|results?|screening|analysis))\s+(?:showed|shows|",
        r"revealed|reveals|found|confirmed|came\s+back|says|said|indicates?|indicated)\b",
    ),
    "g_carry": (
        r"\b(?:carr(?:y|ies|ying)|carrier\s+of|positive\s+for|has|have|tested\s+positive\s+for)\s+",
        r"(?:the\s+|a\s+)?(?P<g_carry_v>(?:[\w'-]+\s+){0,2}?(?:gene|mutation|variant|allele)|brca[12]|",
        r"apoe[- ]?e?4)\b",
    ),
    "k_own": (rf"\b{_OWNER}\s+(?P<k_own_k>{_NOUNS})\s+(?:is|was|are|were|:)\s+(?P<k_own_v>{_PHRASE})",),
}
# References name the kind of a term said before them: a pattern of their own, so that a match of one
# ("... is my voiceprint") never takes the text of another form ("my voiceprint sample id: X").
_REFERENCE_PARTS: dict[str, tuple[str, ...]] = {
    "k_rev": (rf"\s+(?:is|was|are|were)\s+{_OWNER}\s+(?:[\w'’-]+\s+){{0,2}}?(?P<k_rev_k>{_NOUNS})\b",),
    "k_ref": (
        rf"\b(?:that|this|it)(?:'s|’s|\s+is|\s+was)\s+{_OWNER}\s+(?:[\w'’-]+\s+){{0,2}}?",
        rf"(?P<k_ref_k>{_NOUNS})\b",
    ),
}
FORMS = {name: "".join(parts) for name, parts in _PARTS.items()}
REFERENCE_FORMS = {name: "".join(parts) for name, parts in _REFERENCE_PARTS.items()}
SPECIAL = compile_pattern(
    "|".join(f"(?P<{name}>{form})" for name, form in FORMS.items()), tuple(FORMS), lower=True
)
SPECIAL_REFERENCES = compile_pattern(
    "|".join(f"(?P<{name}>{form})" for name, form in REFERENCE_FORMS.items()),
    tuple(REFERENCE_FORMS),
    lower=True,
)
KIND = {
    "h": "health",
    "o": "sexual_orientation",
    "r": "religion",
    "p": "political_opinion",
    "u": "trade_union",
    "e": "ethnicity",
    "b": "biometric",
    "g": "genetic",
}
REFERENCE_KINDS = [(kind, re.compile(f"(?:{alt})", re.IGNORECASE)) for kind, alt in REFERENCE_NOUNS.items()]
# The terms of each kind (Python `re`, on short values only): what a value said before "that's my X" must be.
TERMS = {
    "health": re.compile(
        rf"(?:{CONDITIONS}|{MEDICINES}|hiv[- ]positive|pregnant|diabetic|epileptic|autistic|bipolar|"
        r"miscarriage|(?:ab|a|b|o)\s*(?:[+-]|positive|negative))",
        re.IGNORECASE,
    ),
    "religion": re.compile(
        rf"(?:{RELIGIONS}|church|mosque|synagogue|temple|gurdwara|mass|ramadan|lent|shabbat|kosher|halal)",
        re.IGNORECASE,
    ),
    "sexual_orientation": re.compile(rf"(?:{ORIENTATIONS})", re.IGNORECASE),
    "political_opinion": re.compile(rf"(?:{PARTIES}|{POLITICAL_LABELS})", re.IGNORECASE),
    "trade_union": re.compile(rf"(?:{UNIONS}|(?:[\w']+\s+)?union(?:\s+\w+)?)", re.IGNORECASE),
    "ethnicity": re.compile(rf"(?:{ETHNICITIES})", re.IGNORECASE),
    "biometric": re.compile(r"\S*\d\S*"),
    "genetic": re.compile(
        rf"(?:[\w'-]+\s+){{0,2}}(?:gene|mutation|variant)|brca[12]|apoe[- ]?e?4|{CONDITIONS}", re.IGNORECASE
    ),
}
