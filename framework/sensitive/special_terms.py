"""Vocabularies of special-category data (GDPR art. 9): conditions, medicines, beliefs, parties, unions.

General-knowledge lists, kept apart from the grammar in `special` that decides when a term is said
about a person ("I have epilepsy", "my dad has Parkinson's") rather than about a topic ("a book about
epilepsy"). Each is an RE2 alternation, matched case-insensitively.
"""

CONDITIONS = (
    r"(?:type\s+[12]\s+)?diabetes|(?:breast|lung|prostate|colon|skin|ovarian|pancreatic|bowel|cervical|thyroid|"
    r"testicular|bladder|brain|liver|stomach|blood|kidney)\s+cancer|cancer|leuka?emia|lymphoma|melanoma|"
    r"(?:brain\s+)?tumou?r|hiv|aids|hepatitis(?:\s+[abc]\b)?|tuberculosis|epilepsy|asthma|copd|emphysema|"
    r"(?:clinical\s+|postpartum\s+|severe\s+)?depression|(?:generali[sz]ed\s+|social\s+)?anxiety(?:\s+disorder)?|"
    r"panic\s+(?:disorder|attacks)|c?-?ptsd|ocd|adhd|autism|asperger'?s|bipolar(?:\s+disorder)?|schizophrenia|"
    r"psychosis|eating\s+disorder|anorexia|bulimia|binge\s+eating\s+disorder|insomnia|sleep\s+apno?ea|narcolepsy|"
    r"(?:chronic\s+)?migraines?|multiple\s+sclerosis|ms|parkinson'?s(?:\s+disease)?|alzheimer'?s(?:\s+disease)?|"
    r"dementia|als|motor\s+neurone?\s+disease|(?:rheumatoid\s+|psoriatic\s+|osteo)?arthritis|osteoporosis|lupus|"
    r"crohn'?s(?:\s+disease)?|(?:ulcerative\s+)?colitis|ibs|irritable\s+bowel\s+syndrome|co?eliac(?:\s+disease)?|"
    r"endometriosis|pcos|polycystic\s+ovary\s+syndrome|infertility|hypertension|high\s+blood\s+pressure|"
    r"heart\s+(?:disease|failure|condition)|arrhythmia|atrial\s+fibrillation|afib|long\s+covid|covid(?:-19)?|"
    r"chronic\s+fatigue(?:\s+syndrome)?|fibromyalgia|psoriasis|sickle[- ]cell(?:\s+(?:disease|ana?emia))?|"
    r"cystic\s+fibrosis|ha?emophilia|down'?s?\s+syndrome|cerebral\s+palsy|muscular\s+dystrophy|glaucoma|"
    r"macular\s+degeneration|tinnitus|hearing\s+loss|kidney\s+(?:disease|failure)|liver\s+(?:disease|failure)|"
    r"cirrhosis|hypothyroidism|hyperthyroidism|hashimoto'?s|graves'?\s+disease|std|sti|chlamydia|gonorrh?o?ea|"
    r"syphilis|herpes|hpv|addiction|alcoholism|substance\s+abuse|opioid\s+(?:addiction|use\s+disorder)|"
    r"disability|chronic\s+illness|mental\s+illness|(?:borderline\s+)?personality\s+disorder|bpd|tourette'?s|"
    r"dyslexia|dyspraxia|scoliosis|brain\s+injury|gout|ana?emia|thalass?a?emia|lyme\s+disease|lynch\s+syndrome|"
    r"huntington'?s(?:\s+disease)?|stage\s+\w+\s+\w+\s+cancer"
)
# Ambiguous abbreviations: a condition only when written in capitals ("MS", not "ms").
UPPERCASE_ONLY = frozenset({"ms", "als", "aids", "std", "sti", "ibs", "bpd", "ocd", "hpv", "copd", "pcos"})
MEDICINES = (
    r"insulin|metformin|ozempic|semaglutide|wegovy|mounjaro|tirzepatide|sertraline|zoloft|fluoxetine|prozac|"
    r"citalopram|escitalopram|lexapro|paroxetine|paxil|venlafaxine|effexor|duloxetine|cymbalta|bupropion|"
    r"wellbutrin|mirtazapine|lithium|lamotrigine|lamictal|valproate|depakote|quetiapine|seroquel|olanzapine|"
    r"zyprexa|risperidone|risperdal|aripiprazole|abilify|clozapine|haloperidol|diazepam|valium|alprazolam|xanax|"
    r"lorazepam|ativan|clonazepam|klonopin|adderall|ritalin|methylphenidate|vyvanse|lisdexamfetamine|concerta|"
    r"strattera|methadone|suboxone|buprenorphine|naltrexone|antabuse|antidepressants?|antipsychotics?|"
    r"mood\s+stabili[sz]ers?|anti-?anxiety\s+(?:meds|medication)|benzos|benzodiazepines|chemo(?:therapy)?|"
    r"radiotherapy|radiation\s+therapy|dialysis|prep|truvada|descovy|antiretrovirals?|hrt|"
    r"hormone\s+(?:replacement\s+)?therapy|testosterone|estrogen|oestrogen|puberty\s+blockers|levothyroxine|"
    r"synthroid|warfarin|eliquis|apixaban|xarelto|statins?|atorvastatin|lipitor|beta[- ]blockers?|"
    r"blood\s+thinners|prednisone|prednisolone|opioids|oxycodone|oxycontin|morphine|tramadol|fentanyl|"
    r"gabapentin|pregabalin|lyrica|humira|methotrexate|immunosuppressants|interferon|inhaler|ventolin|"
    r"albuterol|salbutamol|birth\s+control|the\s+pill|ivf|fertility\s+(?:treatment|drugs)"
)
RELIGIONS = (
    r"muslim|christian|roman\s+catholic|catholic|jew|jewish|hindu|buddhist|sikh|mormon|latter-day\s+saint|"
    r"atheist|agnostic|protestant|evangelical|baptist|methodist|lutheran|anglican|presbyterian|pentecostal|"
    r"quaker|jehovah'?s\s+witness|shia|shiite|sunni|sufi|jain|bah[aá]'?[ií]|zoroastrian|pagan|wiccan|"
    r"rastafarian|scientologist|taoist|shintoist|(?:greek|russian|eastern)\s+orthodox|coptic|amish|mennonite|"
    r"unitarian|hare\s+krishna"
)
PARTIES = (
    r"labour(?:\s+party)?|labor\s+party|conservatives?(?:\s+party)?|tories|tory|lib\s?dems?|liberal\s+democrats|"
    r"snp|plaid\s+cymru|reform(?:\s+uk)?|ukip|green\s+party|greens|democrats|republicans|gop|"
    r"democratic\s+party|republican\s+party|afd|cdu|csu|spd|fdp|die\s+linke|bsw|rassemblement\s+national|"
    r"front\s+national|la\s+france\s+insoumise|les\s+r[eé]publicains|psoe|partido\s+popular|vox|podemos|sumar|"
    r"fratelli\s+d'italia|lega|movimento\s+5\s+stelle|m5s|likud|bjp|congress\s+party|anc|ndp|"
    r"bloc\s+qu[eé]b[eé]cois|pvv|vvd|d66|sinn\s+f[eé]in|fianna\s+f[aá]il|fine\s+gael|dup|chega|fidesz|"
    r"sweden\s+democrats|one\s+nation"
)
POLITICAL_LABELS = (
    r"democrat|republican|socialist|communist|libertarian|marxist|anarchist|fascist|tory|"
    r"labour\s+(?:voter|supporter|member)|green\s+(?:voter|supporter)|trump\s+supporter|maga|left-wing|"
    r"right-wing|far-left|far-right|cent(?:re|er)-left|cent(?:re|er)-right|leftist|progressive|conservative|"
    r"liberal|nationalist|zionist|anti-zionist|monarchist"
)
# Words that read as politics only at the end of a clause ("I'm liberal." vs "liberal with comments").
AMBIGUOUS_POLITICAL = frozenset({"progressive", "conservative", "liberal", "nationalist"})
UNIONS = (
    r"unite|unison|gmb|teamsters|uaw|seiu|afl-cio|nea|aft|rmt|ucu|cwu|neu|nasuwt|pcs|usdaw|rcn|bma|"
    r"ig\s+metall|ver\.?di|cgt|cfdt|equity|sag-aftra|wga|ibew|usw|cupe|unifor|aslef|fbu|ctu|cwa|afscme|"
    r"ufcw|ilwu|nnu|dgb|fnv|cgil|cisl"
)
# Unions that are also ordinary words: only when capitalised ("Unite", not "unite").
CAPITALISED_UNIONS = frozenset({"unite", "equity", "nea", "aft", "pcs"})
# "European Union", "credit union": unions that are not trade unions.
NOT_TRADE_UNIONS = frozenset(
    "european soviet credit student students' customs monetary african postal rugby banking economic".split()
)
ETHNICITIES = (
    r"black|white|asian|hispanic|latino|latina|latinx|latine|arab|roma|romani|gypsy|traveller|indigenous|"
    r"aboriginal|first\s+nations|native\s+american|pacific\s+islander|mixed[- ]race|biracial|multiracial|"
    r"african[- ]american|afro-caribbean|caucasian|south\s+asian|east\s+asian|inuit|m[aā]ori|sami|kurdish|"
    r"berber|han\s+chinese|uyghur|tamil"
)
ORIENTATIONS = (
    r"gay|lesbian|bisexual|bi|queer|asexual|ace|pansexual|homosexual|heterosexual|straight|transgender|"
    r"trans\s+(?:man|woman)|trans|non-?binary|genderqueer|genderfluid|intersex|demisexual|aromantic"
)
AMBIGUOUS_ORIENTATION = frozenset({"bi", "ace", "straight", "trans", "queer"})
# Nouns that name what a special-category value is, in "that's my diagnosis" or "my religion is X".
REFERENCE_NOUNS = {
    "health": r"diagnosis|condition|illness|disease|disorder|medication|medicine|prescription|treatment|"
    r"medical\s+(?:condition|history)|health\s+condition|blood\s+type|pregnancy",
    "religion": r"religion|faith|belief|beliefs|religious\s+(?:beliefs?|practice)",
    "sexual_orientation": r"sexuality|sexual\s+orientation|orientation|gender\s+identity",
    "political_opinion": r"political\s+(?:views?|opinions?|beliefs?|leanings?|affiliation|party)|party|"
    r"party\s+(?:membership|support)|vote",
    "trade_union": r"union|union\s+(?:membership|role)",
    "ethnicity": r"ethnicity|ethnic\s+(?:origin|background|group)|race|heritage|ancestry",
    "biometric": r"fingerprint\s+template|voiceprint|iris\s+scan|biometric\s+\w+",
    "genetic": r"genetic\s+(?:result|test\s+result|marker|condition)|dna\s+result",
}
